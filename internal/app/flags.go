package app

import "net/netip"

// prefixValue is a flag holding a netip.Prefix, parsed when the flag is set.
type prefixValue struct{ p *netip.Prefix }

func (v prefixValue) String() string {
	if !v.p.IsValid() {
		return ""
	}
	return v.p.String()
}

func (v prefixValue) Set(s string) (err error) {
	*v.p, err = netip.ParsePrefix(s)
	return err
}

func (prefixValue) Type() string { return "cidr" }

// addrValue is a flag holding a netip.Addr, parsed when the flag is set;
// unset, it is the zero (invalid) address.
type addrValue struct{ a *netip.Addr }

func (v addrValue) String() string {
	if !v.a.IsValid() {
		return ""
	}
	return v.a.String()
}

func (v addrValue) Set(s string) (err error) {
	*v.a, err = netip.ParseAddr(s)
	return err
}

func (addrValue) Type() string { return "ip" }
