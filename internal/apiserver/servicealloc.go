package apiserver

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"berth.dev/berth/internal/store"
)

// Reservations of Service ClusterIPs and NodePorts are store keys, created
// atomically, so allocations stay unique across API servers sharing a store.
const (
	serviceIPPrefix = "/registry/berth/serviceips/"
	nodePortPrefix  = "/registry/berth/nodeports/"
)

// serviceAllocator hands out ClusterIPs from a CIDR and NodePorts from a range.
type serviceAllocator struct {
	store          store.Store
	cidr           netip.Prefix
	nodePortBase   int
	nodePortSize   int
	allocateRandom func(n int) int
}

func newServiceAllocator(s store.Store, cidr netip.Prefix, portBase, portSize int) *serviceAllocator {
	return &serviceAllocator{store: s, cidr: cidr.Masked(), nodePortBase: portBase, nodePortSize: portSize, allocateRandom: rand.IntN}
}

// firstIP is the CIDR's first usable address: the kubernetes Service's.
func (a *serviceAllocator) firstIP() netip.Addr { return a.cidr.Addr().Next() }

// size is how many addresses the CIDR holds.
func (a *serviceAllocator) size() *big.Int {
	bits := a.cidr.Addr().BitLen() - a.cidr.Bits()
	return new(big.Int).Lsh(big.NewInt(1), uint(bits))
}

func (a *serviceAllocator) nth(n int64) netip.Addr {
	base := new(big.Int).SetBytes(a.cidr.Addr().AsSlice())
	b := new(big.Int).Add(base, big.NewInt(n)).Bytes()
	buf := make([]byte, a.cidr.Addr().BitLen()/8)
	copy(buf[len(buf)-len(b):], b)
	addr, _ := netip.AddrFromSlice(buf)
	return addr
}

func (a *serviceAllocator) reserve(ctx context.Context, key, owner string) (bool, error) {
	_, err := a.store.Create(ctx, key, []byte(owner))
	if errors.Is(err, store.ErrExists) {
		return false, nil
	}
	return err == nil, err
}

func (a *serviceAllocator) release(ctx context.Context, key string) {
	_, _ = a.store.Delete(ctx, key, 0)
}

// allocateIP reserves ip, or a free address when ip is empty.
func (a *serviceAllocator) allocateIP(ctx context.Context, ip, owner string) (string, error) {
	if ip != "" {
		addr, err := netip.ParseAddr(ip)
		if err != nil || !a.cidr.Contains(addr) {
			return "", fmt.Errorf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, a.cidr)
		}
		ok, err := a.reserve(ctx, serviceIPPrefix+addr.String(), owner)
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("provided IP is already allocated")
		}
		return addr.String(), nil
	}
	size := a.size()
	// Skip the network address, the kubernetes Service's and (for IPv4) broadcast.
	usable := new(big.Int).Sub(size, big.NewInt(3))
	if usable.Sign() <= 0 {
		return "", errors.New("range is full")
	}
	span := int64(1 << 30)
	if usable.IsInt64() && usable.Int64() < span {
		span = usable.Int64()
	}
	start := int64(a.allocateRandom(int(span)))
	for i := int64(0); i < min(span, 4096); i++ {
		addr := a.nth(2 + (start+i)%span)
		ok, err := a.reserve(ctx, serviceIPPrefix+addr.String(), owner)
		if err != nil {
			return "", err
		}
		if ok {
			return addr.String(), nil
		}
	}
	return "", errors.New("range is full")
}

// allocateNodePort reserves port, or a free one when port is 0.
func (a *serviceAllocator) allocateNodePort(ctx context.Context, port int32, owner string) (int32, error) {
	if port != 0 {
		if int(port) < a.nodePortBase || int(port) >= a.nodePortBase+a.nodePortSize {
			return 0, fmt.Errorf("provided port is not in the valid range. The range of valid ports is %d-%d", a.nodePortBase, a.nodePortBase+a.nodePortSize-1)
		}
		ok, err := a.reserve(ctx, nodePortPrefix+strconv.Itoa(int(port)), owner)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, fmt.Errorf("provided port is already allocated")
		}
		return port, nil
	}
	start := a.allocateRandom(a.nodePortSize)
	for i := range a.nodePortSize {
		p := a.nodePortBase + (start+i)%a.nodePortSize
		ok, err := a.reserve(ctx, nodePortPrefix+strconv.Itoa(p), owner)
		if err != nil {
			return 0, err
		}
		if ok {
			return int32(p), nil
		}
	}
	return 0, errors.New("range is full")
}

// serviceKeys lists the reservation keys a Service holds.
func serviceKeys(svc *corev1.Service) []string {
	var keys []string
	for _, ip := range svc.Spec.ClusterIPs {
		if ip != "" && ip != corev1.ClusterIPNone {
			if addr, err := netip.ParseAddr(ip); err == nil {
				keys = append(keys, serviceIPPrefix+addr.String())
			}
		}
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			keys = append(keys, nodePortPrefix+strconv.Itoa(int(p.NodePort)))
		}
	}
	return keys
}

func needsNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

// allocate gives svc what it lacks (a ClusterIP, NodePorts), keeping what
// old already holds, and returns the keys newly reserved so that a failed
// write can release them. Errors are field errors for a 422.
func (a *serviceAllocator) allocate(ctx context.Context, svc, old *corev1.Service) ([]string, field.ErrorList, error) {
	owner := svc.Namespace + "/" + svc.Name
	var reserved []string
	held := map[string]bool{}
	if old != nil {
		for _, k := range serviceKeys(old) {
			held[k] = true
		}
	}
	fail := func(errs field.ErrorList, err error) ([]string, field.ErrorList, error) {
		for _, k := range reserved {
			a.release(ctx, k)
		}
		return nil, errs, err
	}
	spec := &svc.Spec
	if spec.Type == corev1.ServiceTypeExternalName {
		spec.ClusterIP, spec.ClusterIPs, spec.IPFamilies, spec.IPFamilyPolicy = "", nil, nil, nil
	} else {
		if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
			spec.ClusterIP = spec.ClusterIPs[0]
		}
		if old != nil && spec.ClusterIP == "" {
			spec.ClusterIP = old.Spec.ClusterIP
		}
		ipPath := field.NewPath("spec", "clusterIPs").Index(0)
		if spec.ClusterIP != corev1.ClusterIPNone {
			key := ""
			if addr, err := netip.ParseAddr(spec.ClusterIP); err == nil {
				key = serviceIPPrefix + addr.String()
			}
			if key == "" || !held[key] {
				ip, err := a.allocateIP(ctx, spec.ClusterIP, owner)
				if err != nil {
					return fail(field.ErrorList{field.Invalid(ipPath, spec.ClusterIP, "failed to allocate IP "+spec.ClusterIP+": "+err.Error())}, nil)
				}
				spec.ClusterIP = ip
				reserved = append(reserved, serviceIPPrefix+ip)
			}
		}
		spec.ClusterIPs = []string{spec.ClusterIP}
		family := corev1.IPv4Protocol
		if ip := net.ParseIP(spec.ClusterIP); ip != nil && ip.To4() == nil {
			family = corev1.IPv6Protocol
		} else if ip == nil && a.cidr.Addr().Is6() {
			family = corev1.IPv6Protocol
		}
		if len(spec.IPFamilies) == 0 {
			spec.IPFamilies = []corev1.IPFamily{family}
		}
		if spec.IPFamilyPolicy == nil {
			p := corev1.IPFamilyPolicySingleStack
			spec.IPFamilyPolicy = &p
		}
	}
	if needsNodePorts(svc) {
		for i := range spec.Ports {
			p := &spec.Ports[i]
			if p.NodePort == 0 && old != nil {
				p.NodePort = oldNodePort(old, p)
			}
			if p.NodePort != 0 && held[nodePortPrefix+strconv.Itoa(int(p.NodePort))] {
				continue
			}
			n, err := a.allocateNodePort(ctx, p.NodePort, owner)
			if err != nil {
				return fail(field.ErrorList{field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, err.Error())}, nil)
			}
			p.NodePort = n
			reserved = append(reserved, nodePortPrefix+strconv.Itoa(int(n)))
		}
	} else {
		for i := range spec.Ports {
			spec.Ports[i].NodePort = 0
		}
	}
	return reserved, nil, nil
}

// oldNodePort finds the NodePort old gave the same port.
func oldNodePort(old *corev1.Service, p *corev1.ServicePort) int32 {
	i := slices.IndexFunc(old.Spec.Ports, func(o corev1.ServicePort) bool {
		return o.Port == p.Port && o.Protocol == p.Protocol && o.Name == p.Name
	})
	if i < 0 {
		return 0
	}
	return old.Spec.Ports[i].NodePort
}

// releaseUnused frees what old held and svc (nil when deleted) no longer does.
func (a *serviceAllocator) releaseUnused(ctx context.Context, svc, old *corev1.Service) {
	keep := map[string]bool{}
	if svc != nil {
		for _, k := range serviceKeys(svc) {
			keep[k] = true
		}
	}
	for _, k := range serviceKeys(old) {
		if !keep[k] {
			a.release(ctx, k)
		}
	}
}

// writeHook is kind-specific work around the store write, for what needs
// the store beyond the object itself.
type writeHook interface {
	// beforeWrite runs after validation, before a create (old nil) or
	// update is written. undo releases what it took if the write fails.
	beforeWrite(ctx context.Context, obj, old runtime.Object) (undo func(), errs field.ErrorList, err error)
	// afterWrite runs after a successful update (obj set) or delete (obj nil).
	afterWrite(ctx context.Context, obj, old runtime.Object)
}

// serviceHook allocates ClusterIPs and NodePorts.
type serviceHook struct{ alloc *serviceAllocator }

var _ writeHook = serviceHook{}

func (h serviceHook) beforeWrite(ctx context.Context, obj, old runtime.Object) (func(), field.ErrorList, error) {
	svc := obj.(*corev1.Service)
	var oldSvc *corev1.Service
	if old != nil {
		oldSvc = old.(*corev1.Service)
	}
	reserved, errs, err := h.alloc.allocate(ctx, svc, oldSvc)
	undo := func() {
		for _, k := range reserved {
			h.alloc.release(context.WithoutCancel(ctx), k)
		}
	}
	return undo, errs, err
}

func (h serviceHook) afterWrite(ctx context.Context, obj, old runtime.Object) {
	var svc *corev1.Service
	if obj != nil {
		svc = obj.(*corev1.Service)
	}
	h.alloc.releaseUnused(context.WithoutCancel(ctx), svc, old.(*corev1.Service))
}
