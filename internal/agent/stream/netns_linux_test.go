package stream

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// newNetns makes a network namespace with loopback up and a listener on
// 127.0.0.1 in it that greets each connection; it returns the namespace's
// path and the listener's port. The namespace lives as long as the test,
// held by a locked thread.
func newNetns(t *testing.T) (string, uint16) {
	t.Helper()
	type ready struct {
		path string
		port uint16
		err  error
	}
	readyc := make(chan ready, 1)
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go func() {
		// Never unlocked: the thread ends with the goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			readyc <- ready{err: fmt.Errorf("unshare: %w", err)}
			return
		}
		lo, err := netlink.LinkByName("lo")
		if err == nil {
			err = netlink.LinkSetUp(lo)
		}
		if err != nil {
			readyc <- ready{err: fmt.Errorf("loopback up: %w", err)}
			return
		}
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			readyc <- ready{err: err}
			return
		}
		defer ln.Close()
		readyc <- ready{path: fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()), port: uint16(ln.Addr().(*net.TCPAddr).Port)}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				io.WriteString(c, "inside\n")
				c.Close()
			}
		}()
		<-stop
	}()
	r := <-readyc
	if r.err != nil {
		t.Skipf("cannot make a network namespace (needs root): %v", r.err)
	}
	return r.path, r.port
}

func TestDialInNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	path, port := newNetns(t)
	conn, err := DialInNetns(context.Background(), path, port)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(conn)
	conn.Close()
	if err != nil || string(b) != "inside\n" {
		t.Fatalf("read %q, %v; want the greeting from inside the namespace", b, err)
	}
	// The caller's namespace is untouched: nothing listens there.
	if c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		c.Close()
		t.Skipf("port %d is also open outside the namespace; cannot tell them apart", port)
	}
	if _, err := DialInNetns(context.Background(), path, 1); err == nil {
		t.Error("dialing a closed port in the namespace succeeded")
	}
	if _, err := DialInNetns(context.Background(), "/nonexistent/ns", port); err == nil {
		t.Error("dialing into a missing namespace succeeded")
	}
}
