module github.com/atriumid/atrium/tools

go 1.26
