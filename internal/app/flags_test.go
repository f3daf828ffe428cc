package app

import (
	"net/netip"
	"testing"

	"github.com/spf13/pflag"
)

func TestAddressFlags(t *testing.T) {
	cidr := defaultClusterCIDR
	var ip netip.Addr
	f := pflag.NewFlagSet("t", pflag.ContinueOnError)
	f.Var(prefixValue{&cidr}, "cidr", "")
	f.Var(addrValue{&ip}, "ip", "")
	if got := f.Lookup("cidr").DefValue; got != "10.42.0.0/16" {
		t.Errorf("cidr default %q", got)
	}
	if got := f.Lookup("ip").DefValue; got != "" {
		t.Errorf("ip default %q, want none", got)
	}
	if err := f.Parse([]string{"--cidr", "10.50.0.0/16", "--ip", "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if cidr != netip.MustParsePrefix("10.50.0.0/16") || ip != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("parsed %v, %v", cidr, ip)
	}
	for _, args := range [][]string{{"--cidr", "10.50.0.0"}, {"--ip", "10.0.0.0/8"}} {
		if err := f.Parse(args); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
