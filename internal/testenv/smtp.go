package testenv

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// SMTPServer is a minimal SMTP server written for tests: it
// speaks just enough of RFC 5321 (EHLO, MAIL, RCPT, DATA, QUIT) on a
// loopback port to receive what the real client sends.
type SMTPServer struct {
	ln   net.Listener
	mu   sync.Mutex
	got  []Mail
	done sync.WaitGroup
}

// Mail is one message an SMTPServer received.
type Mail struct {
	From, To string
	Data     string // the DATA section, dot-unstuffed, with CRLF line ends
}

// StartSMTP starts an SMTPServer on a loopback port, stopped when t ends.
func StartSMTP(t testing.TB) *SMTPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPServer{ln: ln}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.done.Add(1)
			go func() { defer s.done.Done(); s.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.done.Wait() })
	return s
}

// Addr returns the server's host:port.
func (s *SMTPServer) Addr() string { return s.ln.Addr().String() }

func (s *SMTPServer) serve(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(line string) { c.Write([]byte(line + "\r\n")) }
	say("220 test ESMTP")
	var m Mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 test")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m.From = strings.Trim(strings.TrimSpace(line)[10:], "<>")
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.To = strings.Trim(strings.TrimSpace(line)[8:], "<>")
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, "."))
			}
			m.Data = b.String()
			s.mu.Lock()
			s.got = append(s.got, m)
			s.mu.Unlock()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("502 unknown")
		}
	}
}

// Await waits until the listener has received n messages in all, for
// mail sent in the background, and returns them; it fails t after 10 s.
func (s *SMTPServer) Await(t testing.TB, n int) []Mail {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if got := s.Messages(); len(got) >= n {
			return got
		}
	}
	t.Fatalf("the SMTP listener received %d messages, want %d", len(s.Messages()), n)
	return nil
}

// Messages returns what the listener Mail.
func (s *SMTPServer) Messages() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.got...)
}
