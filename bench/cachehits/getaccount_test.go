package cachehits

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/atriumid/atrium/internal/config"
	"github.com/atriumid/atrium/internal/testenv"
)

// BenchmarkGetAccountCache measures GetAccount over HTTP against two
// servers in one process, one with the read cache off and one with it on,
// each on its own SQLite database holding 50 users with a profile and a
// sealed contact fragment. The two run in one invocation, so they meet the
// same machine.
//
//	go test -run '^$' -bench BenchmarkGetAccountCache -benchtime 5000x -count 3 ./bench/cachehits/
func BenchmarkGetAccountCache(b *testing.B) {
	for _, size := range []int64{0, 64 << 20} {
		b.Run(fmt.Sprintf("cache=%dMiB", size>>20), func(b *testing.B) {
			srv := testenv.StartServer(b, testenv.SQLiteURL(b), func(c *config.Config) { c.CacheBytes = size })
			get := func(method, path string, body []byte) []byte {
				req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+srv.Key)
				req.Header.Set("Content-Type", "application/json")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				defer res.Body.Close()
				out, _ := io.ReadAll(res.Body)
				if res.StatusCode >= 300 {
					b.Fatalf("%s %s: %d %s", method, path, res.StatusCode, out)
				}
				return out
			}
			var ids []string
			for range 50 {
				var acc struct{ ID string }
				json.Unmarshal(get("POST", "/v1/accounts", []byte(`{"kind":"user","fragments":{"profile":{"display_name":"A"},"contact":{"email":"a@example.com"}}}`)), &acc)
				ids = append(ids, acc.ID)
			}
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					get("GET", "/v1/accounts/"+ids[i%len(ids)], nil)
				}
			})
		})
	}
}
