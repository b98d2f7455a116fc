// Package authbench measures the login and session paths against their
// floors in the same run: a password login over HTTP against argon2id
// verification alone with the same parameters, and a session check
// (whoami) against a bare handler answering the same body.
//
//	go test -run='^$' -bench=. -benchtime=200x ./bench/authbench/
package authbench
