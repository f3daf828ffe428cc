package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// servePortForward forwards the client's connections to the pod's ports:
// over SPDY, over SPDY tunneled in a WebSocket (what kubectl 1.31+ speaks),
// or over a WebSocket with a channel pair per port in the query's ports.
func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request) {
	c, ok := s.lookup(w, r, "")
	if !ok {
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	pf := &portForwarder{s: s, pod: r.PathValue("namespace") + "/" + r.PathValue("pod"), c: c}
	switch {
	case wsstream.IsWebSocketRequestWithTunnelingProtocol(r):
		pf.serveTunnel(ctx, w, r)
	case wsstream.IsWebSocketRequest(r):
		pf.serveWebSocket(ctx, w, r)
	default:
		if _, err := httpstream.Handshake(r, w, []string{portforward.PortForwardV1Name}); err != nil {
			return
		}
		pf.serveSPDY(ctx, func(h httpstream.NewStreamHandler) httpstream.Connection {
			return spdy.NewResponseUpgrader().UpgradeResponse(w, r, h)
		})
	}
}

type portForwarder struct {
	s   *Server
	pod string
	c   Container
}

// serveTunnel accepts a WebSocket whose binary messages carry a SPDY
// connection, and serves SPDY port forwarding over it.
func (pf *portForwarder) serveTunnel(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{
		Subprotocols: []string{portforward.WebsocketsSPDYTunnelingPortForwardV1},
		// The API server is the only client and has authenticated the user.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	if ws.Subprotocol() != portforward.WebsocketsSPDYTunnelingPortForwardV1 {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, "unsupported protocol"), time.Now().Add(time.Second))
		ws.Close()
		return
	}
	tunnel := &wsConn{ws: ws}
	pf.serveSPDY(ctx, func(h httpstream.NewStreamHandler) httpstream.Connection {
		conn, err := spdy.NewServerConnection(tunnel, h)
		if err != nil {
			tunnel.Close()
			return nil
		}
		return conn
	})
}

// serveSPDY serves the streams of one SPDY connection: pairs of a data and
// an error stream with the same requestID, each pair one connection to the
// port in its header.
func (pf *portForwarder) serveSPDY(ctx context.Context, upgrade func(httpstream.NewStreamHandler) httpstream.Connection) {
	streams := make(chan httpstream.Stream)
	done := make(chan struct{})
	defer close(done)
	conn := upgrade(func(st httpstream.Stream, replySent <-chan struct{}) error {
		if st.Headers().Get(corev1.PortForwardRequestIDHeader) == "" {
			return errors.New("missing requestID header")
		}
		select {
		case streams <- st:
			return nil
		case <-done:
			return errors.New("connection closing")
		}
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	conn.SetIdleTimeout(pf.s.cfg.IdleTimeout)

	type pair struct {
		data, errStream httpstream.Stream
		timer           *time.Timer
	}
	expired := make(chan string)
	pairs := map[string]*pair{}
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-conn.CloseChan():
			for _, p := range pairs {
				p.timer.Stop()
			}
			return
		case <-ctx.Done():
			return
		case id := <-expired:
			if p, ok := pairs[id]; ok {
				delete(pairs, id)
				for _, st := range []httpstream.Stream{p.data, p.errStream} {
					if st != nil {
						st.Reset()
					}
				}
			}
		case st := <-streams:
			id := st.Headers().Get(corev1.PortForwardRequestIDHeader)
			p, ok := pairs[id]
			if !ok {
				p = &pair{timer: time.AfterFunc(pf.s.cfg.StreamCreationTimeout, func() {
					select {
					case expired <- id:
					case <-done:
					}
				})}
				pairs[id] = p
			}
			switch st.Headers().Get(corev1.StreamType) {
			case corev1.StreamTypeData:
				p.data = st
			case corev1.StreamTypeError:
				p.errStream = st
			default:
				st.Reset()
			}
			if p.data == nil || p.errStream == nil {
				continue
			}
			p.timer.Stop()
			delete(pairs, id)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.RemoveStreams(p.data, p.errStream)
				port, err := parsePort(p.data.Headers().Get(corev1.PortHeader))
				if err == nil {
					err = pf.forward(ctx, port, p.data)
				}
				if err != nil {
					io.WriteString(p.errStream, err.Error())
				}
				p.errStream.Close()
			}()
		}
	}
}

func parsePort(s string) (uint16, error) {
	port, err := strconv.ParseUint(s, 10, 16)
	if err != nil || port == 0 {
		return 0, fmt.Errorf("invalid port %q", s)
	}
	return uint16(port), nil
}

// forward connects to port in the pod and copies in both directions until
// both are done.
func (pf *portForwarder) forward(ctx context.Context, port uint16, client io.ReadWriteCloser) error {
	conn, err := pf.s.cfg.DialPod(ctx, pf.c.PodUID, port)
	if err != nil {
		client.Close()
		return fmt.Errorf("error forwarding port %d to pod %s, uid %v: %w", port, pf.pod, pf.c.PodUID, err)
	}
	defer conn.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		io.Copy(client, conn)
		client.Close()
	}()
	_, err = io.Copy(conn, client)
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	wg.Wait()
	if err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("error forwarding port %d to pod %s: %w", port, pf.pod, err)
	}
	return nil
}

// serveWebSocket serves kubelet's WebSocket port forwarding: for each port
// in the query a data and an error channel, each starting with the port as
// two little-endian bytes.
func (pf *portForwarder) serveWebSocket(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	var ports []uint16
	for _, v := range r.URL.Query()["ports"] {
		for _, p := range strings.Split(v, ",") {
			port, err := parsePort(strings.TrimSpace(p))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			ports = append(ports, port)
		}
	}
	if len(ports) == 0 {
		http.Error(w, "query parameter \"ports\" is required", http.StatusBadRequest)
		return
	}
	channels := make([]wsstream.ChannelType, 0, 2*len(ports))
	for range ports {
		channels = append(channels, wsstream.ReadWriteChannel, wsstream.WriteChannel)
	}
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		"":                         {Binary: true, Channels: channels},
		"v4.channel.k8s.io":        {Binary: true, Channels: channels},
		"v4.base64.channel.k8s.io": {Binary: false, Channels: channels},
	})
	conn.SetIdleTimeout(pf.s.cfg.IdleTimeout)
	_, rwc, err := conn.Open(w, r)
	if err != nil {
		return
	}
	defer conn.Close()
	for i, port := range ports {
		prefix := []byte{byte(port), byte(port >> 8)}
		if _, err := rwc[2*i].Write(prefix); err != nil {
			return
		}
		if _, err := rwc[2*i+1].Write(prefix); err != nil {
			return
		}
	}
	var wg sync.WaitGroup
	for i, port := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := pf.forward(ctx, port, rwc[2*i]); err != nil {
				io.WriteString(rwc[2*i+1], err.Error())
			}
		}()
	}
	wg.Wait()
}

// wsConn is a WebSocket carrying a byte stream in binary messages, as a
// net.Conn.
type wsConn struct {
	ws *websocket.Conn

	rmu sync.Mutex // guards r
	r   io.Reader  // the message being read
	wmu sync.Mutex // serializes writes
}

func (c *wsConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		if c.r == nil {
			kind, r, err := c.ws.NextReader()
			if err != nil {
				if websocket.IsCloseError(err, websocket.CloseNormalClosure) {
					return 0, io.EOF
				}
				return 0, err
			}
			if kind != websocket.BinaryMessage {
				return 0, fmt.Errorf("unexpected websocket message type %d", kind)
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *wsConn) Close() error {
	c.wmu.Lock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	return c.ws.Close()
}

func (c *wsConn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }
func (c *wsConn) SetDeadline(t time.Time) error {
	return errors.Join(c.ws.SetReadDeadline(t), c.ws.SetWriteDeadline(t))
}
func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
