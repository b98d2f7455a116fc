package sms

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// The log sender never writes the text (and so the code) unless told to.
func TestLogHidesText(t *testing.T) {
	var buf bytes.Buffer
	l := Log{Logger: slog.New(slog.NewTextHandler(&buf, nil))}
	if err := l.SendSMS(context.Background(), "+447700900123", "Your Atrium code is 12345678."); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); strings.Contains(out, "12345678") || strings.Contains(out, "447700900123") || !strings.Contains(out, "…23") {
		t.Errorf("log = %q, want the masked number and no code", out)
	}
	buf.Reset()
	l.RevealText = true
	l.SendSMS(context.Background(), "+447700900123", "Your Atrium code is 12345678.")
	if !strings.Contains(buf.String(), "12345678") {
		t.Errorf("log with RevealText = %q, want the text", buf.String())
	}
}
