package startup

import (
	"bytes"
	"crypto/tls"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"berth.dev/berth/bench/internal/berthproc"
)

const (
	// readyTimeout bounds one start.
	readyTimeout = 30 * time.Second
	// stopTimeout is how long a server has to exit after SIGTERM.
	stopTimeout = 10 * time.Second
	// pollInterval is the /readyz polling period: the resolution of the
	// start times.
	pollInterval = 2 * time.Millisecond
	// idle is how long the server sits ready before its memory is read.
	idle = 5 * time.Second
)

// BenchmarkStartup measures `berth server --disable-agent`: from exec to
// the first /readyz 200 with an empty data directory (which includes
// making the cluster PKI) and with one a previous run left (ns/op; max-ms
// is the slowest start), and the resident memory (VmRSS, and the peak
// VmHWM) after ready plus 5 s idle. Targets (DESIGN.md): start < 1 s,
// idle memory < 100 MiB.
func BenchmarkStartup(b *testing.B) {
	bin := berthproc.Build(b)

	b.Run("empty", func(b *testing.B) {
		var slowest time.Duration
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			srv, d := start(b, bin, dir)
			b.StopTimer()
			srv.stop(b)
			b.StartTimer()
			slowest = max(slowest, d)
		}
		b.ReportMetric(slowest.Seconds()*1000, "max-ms")
	})

	b.Run("existing", func(b *testing.B) {
		dir := b.TempDir()
		srv, _ := start(b, bin, dir)
		srv.stop(b)
		var slowest time.Duration
		for b.Loop() {
			srv, d := start(b, bin, dir)
			b.StopTimer()
			srv.stop(b)
			b.StartTimer()
			slowest = max(slowest, d)
		}
		b.ReportMetric(slowest.Seconds()*1000, "max-ms")
	})

	b.Run("idle", func(b *testing.B) {
		var rss, hwm int64
		for b.Loop() {
			srv, _ := start(b, bin, b.TempDir())
			time.Sleep(idle)
			var err error
			if rss, err = berthproc.Field(srv.cmd.Process.Pid, "status", "VmRSS"); err == nil {
				hwm, err = berthproc.Field(srv.cmd.Process.Pid, "status", "VmHWM")
			}
			srv.stop(b)
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
		b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MiB")
	})
}

// server is a running berth server process.
type server struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer // written by the process until it has exited
	exited chan struct{} // closed when cmd.Wait has returned
	err    error         // cmd.Wait's result, set before exited is closed
}

// start runs `berth server` on dataDir and a free loopback port, and waits
// for its first /readyz 200. It returns the server and the time from just
// before exec to that answer; on failure it stops the server and fails b.
func start(b *testing.B, bin, dataDir string) (*server, time.Duration) {
	b.Helper()
	port, err := freePort()
	if err != nil {
		b.Fatal(err)
	}
	s := &server{stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "server",
		"--data-dir", dataDir,
		"--bind-address", "127.0.0.1",
		"--https-port", strconv.Itoa(port),
		"--disable-agent")
	s.cmd.Stdout = s.stderr
	s.cmd.Stderr = s.stderr
	url := "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/readyz"
	client := &http.Client{
		Timeout: time.Second,
		Transport: &http.Transport{
			// The server makes its CA as it starts; /readyz is anonymous
			// and only ever reached on loopback.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
		},
	}
	defer client.CloseIdleConnections()

	begin := time.Now()
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.After(readyTimeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if ready(client, url) {
			return s, time.Since(begin)
		}
		select {
		case <-s.exited:
			b.Fatalf("berth server exited before it was ready: %v\n%s", s.err, s.stderr)
		case <-deadline:
			s.stop(b)
			b.Fatalf("berth server not ready after %v\n%s", readyTimeout, s.stderr)
		case <-tick.C:
		}
	}
}

// ready reports whether url answers 200.
func ready(client *http.Client, url string) bool {
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// stop sends SIGTERM and waits for the process, killing it after
// stopTimeout. A server that does not exit cleanly fails b.
func (s *server) stop(b *testing.B) {
	b.Helper()
	select {
	case <-s.exited:
		b.Fatalf("berth server had exited: %v\n%s", s.err, s.stderr)
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	select {
	case <-s.exited:
		if s.err != nil {
			b.Fatalf("berth server: %v\n%s", s.err, s.stderr)
		}
	case <-time.After(stopTimeout):
		s.cmd.Process.Kill()
		<-s.exited
		b.Fatalf("berth server still running %v after SIGTERM; killed\n%s", stopTimeout, s.stderr)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
