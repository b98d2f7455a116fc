# Regenerates the committed protobuf code in gen/ from proto/.
.PHONY: generate lint-proto test
generate:
	go tool -modfile=tools/go.mod buf lint
	go tool -modfile=tools/go.mod buf generate

test:
	go test ./...
