package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// spdyProtocols are the remote command protocols served over SPDY, best
// first. The unversioned channel.k8s.io has known bugs and no client left
// that needs it.
var spdyProtocols = []string{
	remotecommand.StreamProtocolV5Name,
	remotecommand.StreamProtocolV4Name,
	remotecommand.StreamProtocolV3Name,
	remotecommand.StreamProtocolV2Name,
}

// commandOptions are the query parameters of exec and attach.
type commandOptions struct {
	stdin, stdout, stderr, tty bool
	command                    []string
}

func parseCommandOptions(r *http.Request) (commandOptions, error) {
	q := r.URL.Query()
	flag := func(name string) bool {
		v := q.Get(name)
		return v == "1" || strings.EqualFold(v, "true")
	}
	o := commandOptions{stdin: flag("input") || flag("stdin"), stdout: flag("output") || flag("stdout"), stderr: flag("error") || flag("stderr"), tty: flag("tty"), command: q["command"]}
	if o.tty && o.stderr {
		// A terminal merges stderr into stdout; kubelet drops the stream.
		o.stderr = false
	}
	if !o.stdin && !o.stdout && !o.stderr {
		return o, errors.New("you must specify at least 1 of stdin, stdout, stderr")
	}
	return o, nil
}

// session is one exec or attach: the client's streams and how to report
// the outcome.
type session struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	resize         io.Reader
	errStream      io.Writer
	// statusJSON: v4 and later report a metav1.Status; v2 and v3 the
	// error's text.
	statusJSON bool
}

func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	opts, err := parseCommandOptions(r)
	if err == nil && len(opts.command) == 0 {
		err = errors.New("you must specify a command")
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c, ok := s.lookup(w, r, r.PathValue("container"))
	if !ok {
		return
	}
	s.serveRemoteCommand(w, r, opts, func(ctx context.Context, st Streams) (int, error) {
		return s.cfg.Exec(ctx, c, opts.command, opts.tty, st)
	})
}

func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request) {
	opts, err := parseCommandOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c, ok := s.lookup(w, r, r.PathValue("container"))
	if !ok {
		return
	}
	s.serveRemoteCommand(w, r, opts, func(ctx context.Context, st Streams) (int, error) {
		return 0, s.cfg.Attach(ctx, c, opts.tty, st)
	})
}

// serveRemoteCommand upgrades to WebSocket or SPDY, runs fn with the
// client's streams and reports its outcome on the error stream.
func (s *Server) serveRemoteCommand(w http.ResponseWriter, r *http.Request, opts commandOptions, fn func(context.Context, Streams) (int, error)) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	var sess *session
	if wsstream.IsWebSocketRequest(r) {
		conn, ss, err := s.openWebSocket(w, r, opts)
		if err != nil {
			s.cfg.Log.Debug("websocket open failed", "err", err)
			return
		}
		defer conn.Close()
		sess = ss
	} else {
		conn, ss, err := s.openSPDY(w, r, opts)
		if err != nil {
			s.cfg.Log.Debug("spdy open failed", "err", err)
			return
		}
		defer conn.Close()
		go func() {
			select {
			case <-conn.CloseChan():
				cancel()
			case <-ctx.Done():
			}
		}()
		sess = ss
	}
	// A client gone shows as a failed write (a WebSocket has no other
	// signal): end the session then.
	st := Streams{Stdin: sess.stdin, Stdout: cancelOnError(sess.stdout, cancel), Stderr: cancelOnError(sess.stderr, cancel)}
	if sess.resize != nil {
		sizes := make(chan TermSize)
		st.Resize = sizes
		go decodeResizes(ctx, sess.resize, sizes)
	}
	code, err := fn(ctx, st)
	if werr := sess.writeStatus(code, err); werr != nil {
		s.cfg.Log.Debug("writing exec status failed", "err", werr)
	}
}

// decodeResizes turns the resize stream's JSON objects into sizes, until
// the stream or ctx ends.
func decodeResizes(ctx context.Context, r io.Reader, out chan<- TermSize) {
	defer close(out)
	dec := json.NewDecoder(r)
	for {
		var size struct{ Width, Height uint16 }
		if err := dec.Decode(&size); err != nil {
			return
		}
		select {
		case out <- TermSize{Width: size.Width, Height: size.Height}:
		case <-ctx.Done():
			return
		}
	}
}

// writeStatus reports the outcome as kubelet does: a metav1.Status (v4
// and later), with a NonZeroExitCode reason and ExitCode cause for a
// command that failed, or the error's text (v2, v3).
func (s *session) writeStatus(code int, err error) error {
	if !s.statusJSON {
		switch {
		case err != nil:
			_, werr := io.WriteString(s.errStream, err.Error())
			return werr
		case code != 0:
			_, werr := fmt.Fprintf(s.errStream, "command terminated with non-zero exit code: exit status %d", code)
			return werr
		}
		return nil
	}
	status := metav1.Status{Status: metav1.StatusSuccess}
	switch {
	case err != nil:
		status = apierrors.NewInternalError(err).Status()
	case code != 0:
		status = metav1.Status{
			Status:  metav1.StatusFailure,
			Reason:  remotecommand.NonZeroExitCodeReason,
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: remotecommand.ExitCodeCauseType, Message: fmt.Sprint(code)}}},
			Message: fmt.Sprintf("command terminated with non-zero exit code: exit status %d", code),
		}
	}
	status.APIVersion, status.Kind = "v1", "Status"
	b, merr := json.Marshal(status)
	if merr != nil {
		return merr
	}
	_, werr := s.errStream.Write(b)
	return werr
}

// openWebSocket accepts a WebSocket session: channel 0 stdin, 1 stdout,
// 2 stderr, 3 error, 4 resize.
func (s *Server) openWebSocket(w http.ResponseWriter, r *http.Request, opts commandOptions) (*wsstream.Conn, *session, error) {
	ch := func(want bool, t wsstream.ChannelType) wsstream.ChannelType {
		if want {
			return t
		}
		return wsstream.IgnoreChannel
	}
	channels := []wsstream.ChannelType{
		ch(opts.stdin, wsstream.ReadChannel),
		ch(opts.stdout, wsstream.WriteChannel),
		ch(opts.stderr, wsstream.WriteChannel),
		wsstream.WriteChannel,
		ch(opts.tty, wsstream.ReadChannel),
	}
	binary := wsstream.ChannelProtocolConfig{Binary: true, Channels: channels}
	base64 := wsstream.ChannelProtocolConfig{Binary: false, Channels: channels}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		"":                                      binary,
		wsstream.ChannelWebSocketProtocol:       binary,
		wsstream.Base64ChannelWebSocketProtocol: base64,
		remotecommand.StreamProtocolV4Name:      binary,
		"v4.base64.channel.k8s.io":              base64,
		remotecommand.StreamProtocolV5Name:      binary,
	})
	conn.SetIdleTimeout(s.cfg.IdleTimeout)
	protocol, rwc, err := conn.Open(w, r)
	if err != nil {
		return nil, nil, err
	}
	sess := &session{errStream: rwc[remotecommand.StreamErr], statusJSON: strings.HasPrefix(protocol, "v4.") || strings.HasPrefix(protocol, "v5.")}
	if opts.stdin {
		sess.stdin = rwc[remotecommand.StreamStdIn]
	}
	if opts.stdout {
		sess.stdout = rwc[remotecommand.StreamStdOut]
	}
	if opts.stderr {
		sess.stderr = rwc[remotecommand.StreamStdErr]
	}
	if opts.tty {
		sess.resize = rwc[remotecommand.StreamResize]
	}
	return conn, sess, nil
}

// spdyConn is an upgraded SPDY connection and the streams of its session.
type spdyConn struct {
	httpstream.Connection
	streams []httpstream.Stream
}

// Close ends the streams, so the client sees their ends, then the
// connection.
func (c *spdyConn) Close() error {
	for _, st := range c.streams {
		st.Close()
	}
	return c.Connection.Close()
}

// openSPDY upgrades to SPDY and waits for the client's streams.
func (s *Server) openSPDY(w http.ResponseWriter, r *http.Request, opts commandOptions) (*spdyConn, *session, error) {
	protocol, err := httpstream.Handshake(r, w, spdyProtocols)
	if err != nil {
		return nil, nil, err
	}
	type arrival struct {
		stream    httpstream.Stream
		replySent <-chan struct{}
	}
	arrivals := make(chan arrival)
	done := make(chan struct{})
	defer close(done)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, replySent <-chan struct{}) error {
		select {
		case arrivals <- arrival{st, replySent}:
			return nil
		case <-done:
			return errors.New("unexpected stream")
		}
	})
	if conn == nil {
		return nil, nil, errors.New("spdy upgrade failed")
	}
	conn.SetIdleTimeout(s.cfg.IdleTimeout)
	sc := &spdyConn{Connection: conn}

	want := 1 // the error stream
	for _, b := range []bool{opts.stdin, opts.stdout, opts.stderr, opts.tty && protocol != remotecommand.StreamProtocolV2Name} {
		if b {
			want++
		}
	}
	sess := &session{statusJSON: protocol == remotecommand.StreamProtocolV4Name || protocol == remotecommand.StreamProtocolV5Name}
	var replies []<-chan struct{}
	timeout := time.NewTimer(s.cfg.StreamCreationTimeout)
	defer timeout.Stop()
	for len(sc.streams) < want {
		select {
		case a := <-arrivals:
			switch a.stream.Headers().Get(corev1.StreamType) {
			case corev1.StreamTypeError:
				sess.errStream = a.stream
			case corev1.StreamTypeStdin:
				sess.stdin = a.stream
			case corev1.StreamTypeStdout:
				sess.stdout = a.stream
			case corev1.StreamTypeStderr:
				sess.stderr = a.stream
			case corev1.StreamTypeResize:
				sess.resize = a.stream
			default:
				a.stream.Reset()
				continue
			}
			sc.streams = append(sc.streams, a.stream)
			replies = append(replies, a.replySent)
		case <-timeout.C:
			sc.Close()
			return nil, nil, fmt.Errorf("timed out waiting for client streams: got %d of %d", len(sc.streams), want)
		case <-conn.CloseChan():
			sc.Close()
			return nil, nil, errors.New("client closed the connection")
		}
	}
	if sess.errStream == nil {
		sc.Close()
		return nil, nil, errors.New("client opened no error stream")
	}
	for _, reply := range replies {
		<-reply
	}
	return sc, sess, nil
}

// cancelOnError returns w, calling cancel when a write to it fails; nil
// stays nil.
func cancelOnError(w io.Writer, cancel context.CancelFunc) io.Writer {
	if w == nil {
		return nil
	}
	return &failWriter{w: w, cancel: cancel}
}

type failWriter struct {
	w      io.Writer
	cancel context.CancelFunc
}

func (f *failWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		f.cancel()
	}
	return n, err
}
