// Package cachehits measures the read cache's hit ratio under a Zipf
// distribution of keys, in process: the cache in front of a loader that
// stands for the database, with snapshots of a typical account's size.
package cachehits

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/atriumid/atrium/internal/account"
	"github.com/atriumid/atrium/internal/readcache"
)

// BenchmarkZipfHitRatio reads b.N keys drawn from a Zipf distribution over
// a keyspace, through a cache with a memory budget, and reports the share
// of reads served from memory. The first 10% of reads warm the cache and
// are not counted.
//
//	go test -run '^$' -bench BenchmarkZipfHitRatio -benchtime 2000000x ./bench/cachehits/
func BenchmarkZipfHitRatio(b *testing.B) {
	data := make([]byte, 600) // a profile and a sealed contact fragment
	for _, keys := range []int{10_000, 1_000_000} {
		for _, s := range []float64{1.01, 1.2} {
			for _, mib := range []int64{16, 64} {
				b.Run(fmt.Sprintf("keys=%d/s=%g/cache=%dMiB", keys, s, mib), func(b *testing.B) {
					c, err := readcache.New(readcache.Options{MaxBytes: mib << 20, MaxStaleness: time.Hour})
					if err != nil {
						b.Fatal(err)
					}
					z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), s, 1, uint64(keys-1))
					ctx := context.Background()
					warm := b.N / 10
					var base readcache.Stats
					for i := range b.N {
						if i == warm {
							base = c.Stats()
						}
						id := fmt.Sprintf("usr_%026d", z.Uint64())
						c.Account(ctx, id, func(context.Context) (account.Snapshot, error) {
							return account.Snapshot{Account: account.Record{ID: id, Version: 1}, AsOf: time.Now(),
								Fragments: []account.FragmentRecord{{AccountID: id, Name: "profile", Version: 1, Data: data}}}, nil
						})
					}
					st := c.Stats()
					hits, misses := st.Hits-base.Hits, st.Misses-base.Misses
					if hits+misses > 0 {
						b.ReportMetric(float64(hits)/float64(hits+misses), "hit-ratio")
					}
					b.ReportMetric(float64(st.Bytes)/(1<<20), "MiB")
				})
			}
		}
	}
}
