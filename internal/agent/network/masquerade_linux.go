package network

import (
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/knftables"
)

// masqueradeTable is the name of the node's nftables table (family inet)
// that masquerades the pods' traffic leaving the cluster: one per bridge.
func (n *Network) masqueradeTable() string { return n.cfg.Bridge + "-masquerade" }

// InstallMasquerade makes the pods' traffic leave the cluster with the
// node's address: packets from the node's pod CIDRs to anywhere but the
// cluster CIDRs and multicast are masqueraded. It replaces the table's
// rules, so it may run at every start. One table for the node instead of
// the bridge plugin's per-pod ipMasq chains saves nine iptables execs a pod
// and leaves nothing behind when a pod's namespace disappears first.
func (n *Network) InstallMasquerade(ctx context.Context) error {
	nft, err := knftables.New(knftables.InetFamily, n.masqueradeTable())
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("berth: pods' traffic leaving the cluster")})
	chain := &knftables.Chain{
		Name:     "postrouting",
		Type:     knftables.PtrTo(knftables.NATType),
		Hook:     knftables.PtrTo(knftables.PostroutingHook),
		Priority: knftables.PtrTo(knftables.SNATPriority),
	}
	tx.Add(chain)
	tx.Flush(chain)
	for _, p := range n.cfg.PodCIDRs {
		family, excluded := "ip", []string{"224.0.0.0/4"}
		if p.Addr().Is6() {
			family, excluded = "ip6", []string{"ff00::/8"}
		}
		for _, c := range n.cfg.ClusterCIDRs {
			if c.Addr().Is6() == p.Addr().Is6() {
				excluded = append(excluded, c.Masked().String())
			}
		}
		tx.Add(&knftables.Rule{Chain: chain.Name, Rule: knftables.Concat(
			family, "saddr", p.Masked().String(), family, "daddr", "!=", "{", strings.Join(excluded, ", "), "}", "masquerade")})
	}
	if err := nft.Run(ctx, tx); err != nil {
		return fmt.Errorf("network: installing the masquerade rules: %w", err)
	}
	return nil
}

// RemoveMasquerade deletes what InstallMasquerade made; a missing table is
// no error.
func (n *Network) RemoveMasquerade(ctx context.Context) error {
	nft, err := knftables.New(knftables.InetFamily, n.masqueradeTable())
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return fmt.Errorf("network: removing the masquerade rules: %w", err)
	}
	return nil
}
