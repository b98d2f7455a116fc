package main

import (
	"bufio"
	"net/http"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/testenv"
)

// TestShutdownEndsEventStreams shows that SIGTERM does not wait for the
// server-sent-event streams that clients keep open.
func TestShutdownEndsEventStreams(t *testing.T) {
	base, key, stop := startServe(t, testenv.SQLiteURL(t))
	req, _ := http.NewRequest("GET", base+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Accept", "text/event-stream")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("stream: %v %v", res, err)
	}
	defer res.Body.Close()
	start := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("serve after SIGTERM with a stream open: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("shutdown took %v with a stream open", d)
	}
	// The stream ended: reading reaches its end.
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
	}
}
