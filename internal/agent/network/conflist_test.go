package network

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestConfListGolden checks the CNI configuration of a dual-stack node
// against testdata/conflist.json (go test -update rewrites it).
func TestConfListGolden(t *testing.T) {
	b, err := confList(Config{
		StateDir: "/var/lib/berth/network",
		PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.3.0/24"), netip.MustParsePrefix("fd42:0:0:3::/64")},
		Bridge:   "berth0",
		Name:     "berth",
		MTU:      1450,
	})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := json.Indent(&got, b, "", "  "); err != nil {
		t.Fatal(err)
	}
	got.WriteByte('\n')
	golden := filepath.Join("testdata", "conflist.json")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), got.String()); diff != "" {
		t.Errorf("conflist (-want +got):\n%s", diff)
	}
}

func TestConfListRejectsHostBits(t *testing.T) {
	if _, err := confList(Config{PodCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.3.7/24")}}); err == nil {
		t.Error("a pod CIDR with host bits was accepted")
	}
}
