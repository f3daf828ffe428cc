package stream_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/metrics"
)

const testLog = `2026-01-01T00:00:01.000000001Z stdout F one
2026-01-01T00:00:02Z stderr F two
not a record
2026-01-01T00:00:03Z stdout P thr
2026-01-01T00:00:03.5Z stdout F ee
2026-01-01T00:00:04Z stdout F four
`

func getLogs(t *testing.T, cfg *rest.Config, query string) (int, string) {
	t.Helper()
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt}).Get(cfg.Host + "/containerLogs/ns/p/c" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestLogs(t *testing.T) {
	node, cfg, _ := startServer(t, metrics.Scrape{})
	node.AppendLog(t, "c", false, testLog)
	tests := []struct {
		name     string
		query    string
		previous bool // a previous instance's log exists
		wantCode int
		want     string
	}{
		{name: "all", want: "one\ntwo\nthree\nfour\n"},
		{name: "timestamps", query: "?timestamps=true",
			want: "2026-01-01T00:00:01.000000001Z one\n2026-01-01T00:00:02Z two\n2026-01-01T00:00:03Z three\n2026-01-01T00:00:04Z four\n"},
		{name: "tail", query: "?tailLines=2", want: "ee\nfour\n"},
		{name: "tail zero", query: "?tailLines=0", want: ""},
		{name: "tail more than there are", query: "?tailLines=100", want: "one\ntwo\nthree\nfour\n"},
		{name: "sinceTime", query: "?sinceTime=2026-01-01T00:00:02Z", want: "two\nthree\nfour\n"},
		{name: "limitBytes", query: "?limitBytes=6", want: "one\ntw"},
		{name: "bad tailLines", query: "?tailLines=-2", wantCode: http.StatusBadRequest, want: "invalid tailLines \"-2\"\n"},
		{name: "no previous", query: "?previous=true", wantCode: http.StatusBadRequest,
			want: "previous terminated container \"c\" in pod \"ns/p\" not found\n"},
		{name: "previous", query: "?previous=true", previous: true, want: "old\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(node.LogPath("c", true))
			if tt.previous {
				node.AppendLog(t, "c", true, "2026-01-01T00:00:00Z stdout F old\n")
			}
			if tt.wantCode == 0 {
				tt.wantCode = http.StatusOK
			}
			code, body := getLogs(t, cfg, tt.query)
			if diff := cmp.Diff(fmt.Sprint(tt.wantCode, " ", tt.want), fmt.Sprint(code, " ", body)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestLogsFollow(t *testing.T) {
	node, cfg, _ := startServer(t, metrics.Scrape{})
	path := node.LogPath("c", false)
	node.AppendLog(t, "c", false, "2026-01-01T00:00:01Z stdout F first\n")
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", cfg.Host+"/containerLogs/ns/p/c?follow=true", nil)
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewReader(resp.Body)
	expect := func(want string) {
		t.Helper()
		got, err := lines.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	appendLog := func(s string) { node.AppendLog(t, "c", false, s) }
	expect("first\n")
	appendLog("2026-01-01T00:00:02Z stdout P sec\n")
	appendLog("2026-01-01T00:00:02Z stdout F ond\n")
	expect("second\n")

	// Rotation as the shim does it: the file is renamed and a new one
	// started; what was written to the old one before still comes first.
	appendLog("2026-01-01T00:00:03Z stdout F third\n")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	appendLog("2026-01-01T00:00:04Z stdout F fourth\n")
	expect("third\n")
	expect("fourth\n")

	// The container stops after a last line: it is sent, then the stream ends.
	appendLog("2026-01-01T00:00:05Z stdout F last\n")
	node.SetRunning(false)
	expect("last\n")
	if rest, err := io.ReadAll(lines); err != nil || len(rest) != 0 {
		t.Fatalf("after the container stopped got %q, %v; want the end", rest, err)
	}
}
