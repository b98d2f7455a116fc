package testenv

import (
	"bufio"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// Scrape returns GET /metrics of srv with the given bearer key ("" for
// none): the status and every sample by its series (name and labels as
// printed).
func Scrape(t testing.TB, srv *Server, key string) (int, map[string]float64) {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out := map[string]float64{}
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, out
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return res.StatusCode, out
}
