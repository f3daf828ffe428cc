package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// DialInNetns connects to port on the loopback of the network namespace
// pinned at netnsPath (a pod sandbox's), IPv4 first then IPv6, as
// containerd's port forwarding does. A pod worker can back Config.DialPod
// with it. The socket is made on an OS thread that enters the namespace
// for the dial only; the connection stays in the namespace.
func DialInNetns(ctx context.Context, netnsPath string, port uint16) (net.Conn, error) {
	target, err := os.Open(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("opening network namespace: %w", err)
	}
	defer target.Close()
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("opening own network namespace: %w", err)}
			return
		}
		defer orig.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- result{err: fmt.Errorf("entering network namespace %s: %w", netnsPath, err)}
			return
		}
		conn, err := dialLoopback(ctx, port)
		if rerr := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); rerr != nil {
			// The thread stays locked, so the runtime ends it with this
			// goroutine rather than reuse it in the pod's namespace.
			done <- result{conn, err}
			return
		}
		runtime.UnlockOSThread()
		done <- result{conn, err}
	}()
	r := <-done
	return r.conn, r.err
}

func dialLoopback(ctx context.Context, port uint16) (net.Conn, error) {
	var d net.Dialer
	p := strconv.Itoa(int(port))
	conn, err4 := d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", p))
	if err4 == nil {
		return conn, nil
	}
	conn, err6 := d.DialContext(ctx, "tcp6", net.JoinHostPort("::1", p))
	if err6 == nil {
		return conn, nil
	}
	return nil, errors.Join(err4, err6)
}
