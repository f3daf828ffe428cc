package apiserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
)

// defaultNodePort is kubelet's port, used when a Node does not publish
// status.daemonEndpoints.kubeletEndpoint.
const defaultNodePort = 10250

// maxNodeErrorBody bounds how much of a node's error answer is read.
const maxNodeErrorBody = 64 << 10

var (
	podExecOptionsGVK        = corev1.SchemeGroupVersion.WithKind("PodExecOptions")
	podAttachOptionsGVK      = corev1.SchemeGroupVersion.WithKind("PodAttachOptions")
	podPortForwardOptionsGVK = corev1.SchemeGroupVersion.WithKind("PodPortForwardOptions")
)

// podStreamSubresources are the pod subresources served by proxying to the
// pod's node, with their discovery kinds and verbs as upstream's.
func podStreamSubresources(pod schema.GroupVersionKind) []subresourceInfo {
	connect := []string{"create", "get"}
	return []subresourceInfo{
		{"attach", podAttachOptionsGVK, connect},
		{"exec", podExecOptionsGVK, connect},
		{"log", pod, []string{"get"}},
		{"portforward", podPortForwardOptionsGVK, connect},
	}
}

func isPodStream(sub string) bool {
	switch sub {
	case "log", "exec", "attach", "portforward":
		return true
	}
	return false
}

// handlePodStream serves pods/log, exec, attach and portforward as
// upstream: checked and admitted here, then proxied to the node's
// streaming server (kubelet's paths) with the API server's client
// certificate; upgrades (SPDY, WebSocket) pass through.
func (s *Server) handlePodStream(w http.ResponseWriter, r *http.Request, req *request) error {
	in := req.info
	if in.Subresource == "log" && in.Verb != "get" || in.Verb != "get" && in.Verb != "create" {
		return methodNotSupported(req.res, in.Verb)
	}
	if in.Subresource != "log" && in.Verb == "get" {
		// A WebSocket upgrade arrives as GET; upstream also requires create
		// (AuthorizePodWebsocketUpgradeCreatePermission).
		attrs := auth.Attributes{
			User: req.user, Verb: "create", IsResource: true, Namespace: in.Namespace,
			APIGroup: in.Group, APIVersion: in.Version, Resource: in.Resource,
			Subresource: in.Subresource, Name: in.Name, Path: in.Path,
		}
		create := *req
		create.info.Verb = "create"
		if _, err := s.authorize(r.Context(), &create, attrs); err != nil {
			return err
		}
	}
	if s.nodeTransport == nil {
		return apierrors.NewServiceUnavailable("the API server has no connection to nodes configured")
	}
	obj, _, err := s.getStored(r.Context(), req.res, in.Namespace, in.Name)
	if err != nil {
		return err
	}
	pod := obj.(*corev1.Pod)
	q := req.query
	var path string
	nodeQuery := url.Values{}
	switch in.Subresource {
	case "log":
		container, err := podContainer(pod, q.Get("container"))
		if err != nil {
			return err
		}
		if err := logQuery(q, nodeQuery); err != nil {
			return err
		}
		if pod.Spec.NodeName == "" {
			// Not scheduled: no log yet; upstream answers an empty stream.
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusOK)
			return nil
		}
		path = "/containerLogs/" + pod.Namespace + "/" + pod.Name + "/" + container
	case "exec", "attach":
		container, err := podContainer(pod, q.Get("container"))
		if err != nil {
			return err
		}
		opts, err := commandQuery(in.Subresource, q, nodeQuery)
		if err != nil {
			return err
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return badRequest("cannot %s into a container in a completed pod; current phase is %s", in.Subresource, pod.Status.Phase)
		}
		if pod.Spec.NodeName == "" {
			return badRequest("pod %s does not have a host assigned", pod.Name)
		}
		if err := s.admitConnect(r.Context(), req, opts); err != nil {
			return err
		}
		path = "/" + in.Subresource + "/" + pod.Namespace + "/" + pod.Name + "/" + container
	case "portforward":
		opts := &corev1.PodPortForwardOptions{TypeMeta: typeMetaOf(podPortForwardOptionsGVK)}
		for _, p := range q["ports"] {
			for _, part := range strings.Split(p, ",") {
				port, err := strconv.ParseInt(strings.TrimSpace(part), 10, 32)
				if err != nil || port < 1 || port > 65535 {
					return badRequest("invalid port %q", part)
				}
				opts.Ports = append(opts.Ports, int32(port))
			}
		}
		if len(q["ports"]) > 0 {
			nodeQuery["ports"] = q["ports"]
		}
		if pod.Spec.NodeName == "" {
			return badRequest("pod %s does not have a host assigned", pod.Name)
		}
		if err := s.admitConnect(r.Context(), req, opts); err != nil {
			return err
		}
		path = "/portForward/" + pod.Namespace + "/" + pod.Name
	}
	host, err := s.nodeAddress(r.Context(), pod.Spec.NodeName)
	if err != nil {
		return err
	}
	loc := &url.URL{Scheme: "https", Host: host, Path: path, RawQuery: nodeQuery.Encode()}
	if in.Subresource == "log" {
		return s.streamNodeLog(w, r, req, loc)
	}
	return s.proxyUpgrade(w, r, req, loc)
}

func typeMetaOf(gvk schema.GroupVersionKind) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind}
}

// podContainer resolves the container a request names, as upstream: the
// only container when none is named.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	names := func(cs []corev1.Container) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return strings.Join(out, " ")
	}
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", badRequest("a container name must be specified for pod %s", pod.Name)
		}
		msg := fmt.Sprintf("a container name must be specified for pod %s, choose one of: [%s]", pod.Name, names(pod.Spec.Containers))
		if len(pod.Spec.InitContainers) > 0 {
			msg += fmt.Sprintf(" or one of the init containers: [%s]", names(pod.Spec.InitContainers))
		}
		return "", apierrors.NewBadRequest(msg)
	}
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range list {
			if c.Name == name {
				return name, nil
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", badRequest("container %s is not valid for pod %s", name, pod.Name)
}

// logQuery checks the PodLogOptions parameters and copies them to the
// node's query.
func logQuery(q, node url.Values) error {
	for _, name := range []string{"follow", "previous", "timestamps"} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return badRequest("invalid %s %q", name, v)
			}
			if b {
				node.Set(name, "true")
			}
		}
	}
	for _, p := range []struct {
		name string
		min  int64
	}{{"tailLines", 0}, {"limitBytes", 1}, {"sinceSeconds", 1}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return badRequest("invalid %s %q", p.name, v)
		}
		if n < p.min {
			return apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, "", field.ErrorList{
				field.Invalid(field.NewPath(p.name), n, fmt.Sprintf("must be greater than or equal to %d", p.min)),
			})
		}
		node.Set(p.name, v)
	}
	if v := q.Get("sinceTime"); v != "" {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return badRequest("invalid sinceTime %q", v)
		}
		if q.Get("sinceSeconds") != "" {
			return badRequest("at most one of `sinceTime` or `sinceSeconds` may be specified")
		}
		node.Set("sinceTime", v)
	}
	return nil
}

// commandQuery checks PodExecOptions or PodAttachOptions parameters, copies
// them to the node's query in kubelet's form (input, output, error, tty,
// command) and returns the options object admission sees.
func commandQuery(sub string, q, node url.Values) (runtime.Object, error) {
	flag := func(name string) (bool, error) {
		v := q.Get(name)
		if v == "" {
			return false, nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return false, badRequest("invalid %s %q", name, v)
		}
		return b, nil
	}
	var stdin, stdout, stderr, tty bool
	for _, f := range []struct {
		name, nodeName string
		into           *bool
	}{{"stdin", "input", &stdin}, {"stdout", "output", &stdout}, {"stderr", "error", &stderr}, {"tty", "tty", &tty}} {
		b, err := flag(f.name)
		if err != nil {
			return nil, err
		}
		*f.into = b
		if b {
			node.Set(f.nodeName, "1")
		}
	}
	if !stdin && !stdout && !stderr {
		return nil, badRequest("you must specify at least 1 of stdin, stdout, stderr")
	}
	container := q.Get("container")
	if sub == "attach" {
		return &corev1.PodAttachOptions{TypeMeta: typeMetaOf(podAttachOptionsGVK), Stdin: stdin, Stdout: stdout, Stderr: stderr, TTY: tty, Container: container}, nil
	}
	cmd := q["command"]
	if len(cmd) == 0 {
		return nil, apierrors.NewInvalid(schema.GroupKind{Kind: "PodExecOptions"}, "", field.ErrorList{field.Required(field.NewPath("command"), "")})
	}
	node["command"] = cmd
	return &corev1.PodExecOptions{TypeMeta: typeMetaOf(podExecOptionsGVK), Stdin: stdin, Stdout: stdout, Stderr: stderr, TTY: tty, Container: container, Command: cmd}, nil
}

// admitConnect runs the admission chain on a CONNECT with its options
// object, as upstream does for pods/exec, attach and portforward.
func (s *Server) admitConnect(ctx context.Context, req *request, opts runtime.Object) error {
	in := req.info
	a := s.admissionFor(req, req.res, admission.Connect, in.Namespace, in.Name, opts, nil, false)
	if a == nil {
		return nil
	}
	a.Kind = opts.GetObjectKind().GroupVersionKind()
	if err := s.mutate(ctx, req, a); err != nil {
		return err
	}
	return s.admit(ctx, req, a)
}

// nodeAddress returns host:port of a node's streaming server: its
// InternalIP (else ExternalIP, else a DNS name) and its kubelet endpoint
// port.
func (s *Server) nodeAddress(ctx context.Context, name string) (string, error) {
	res := s.lookup(corev1.SchemeGroupVersion, "nodes")
	obj, _, err := s.getStored(ctx, res, "", name)
	if err != nil {
		return "", err
	}
	node := obj.(*corev1.Node)
	var host string
	for _, t := range []corev1.NodeAddressType{corev1.NodeInternalIP, corev1.NodeExternalIP, corev1.NodeInternalDNS, corev1.NodeHostName, corev1.NodeExternalDNS} {
		for _, a := range node.Status.Addresses {
			if a.Type == t && host == "" {
				host = a.Address
			}
		}
	}
	if host == "" {
		return "", apierrors.NewServiceUnavailable(fmt.Sprintf("node %q has no address", name))
	}
	port := int(node.Status.DaemonEndpoints.KubeletEndpoint.Port)
	if port == 0 {
		port = defaultNodePort
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// newNodeTransport is the transport to nodes: HTTP/1.1 (upgrades need it),
// no proxy, the given TLS.
func newNodeTransport(cfg *tls.Config) *http.Transport {
	c := cfg.Clone()
	c.NextProtos = []string{"http/1.1"}
	return &http.Transport{
		TLSClientConfig:     c,
		TLSHandshakeTimeout: 10 * time.Second,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 8,
	}
}

// nodeError turns a node's refusal into the client's error, as upstream's
// response checker: the node's code and text.
func nodeError(resp *http.Response, req *request) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxNodeErrorBody))
	msg := strings.TrimSpace(string(b))
	switch resp.StatusCode {
	case http.StatusBadRequest:
		return apierrors.NewBadRequest(msg)
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(errors.New(msg))
	}
	gr := schema.GroupResource{Resource: "pods/" + req.info.Subresource}
	return apierrors.NewGenericServerResponse(resp.StatusCode, "", gr, req.info.Name, msg, 0, false)
}

// streamNodeLog copies a node's log answer to the client, flushing as it
// arrives (for follow).
func (s *Server) streamNodeLog(w http.ResponseWriter, r *http.Request, req *request, loc *url.URL) error {
	nreq, err := http.NewRequestWithContext(r.Context(), http.MethodGet, loc.String(), nil)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	resp, err := s.nodeTransport.RoundTrip(nreq)
	if err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("connecting to the node: %v", err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nodeError(resp, req)
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				return nil
			}
			rc.Flush()
		}
		if rerr != nil {
			return nil
		}
	}
}

// droppedHeaders are not passed to the node: the user's credentials stay here.
var droppedHeaders = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// proxyUpgrade passes an upgrade request (SPDY or WebSocket) to the node
// and, when the node switches protocols, joins the two connections. A node
// that refuses has its answer relayed, so clients can fall back (WebSocket
// to SPDY) as they do against upstream.
func (s *Server) proxyUpgrade(w http.ResponseWriter, r *http.Request, req *request, loc *url.URL) error {
	if !strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") || r.Header.Get("Upgrade") == "" {
		return badRequest("Upgrade request required")
	}
	d := tls.Dialer{Config: s.nodeTransport.TLSClientConfig, NetDialer: &net.Dialer{Timeout: 30 * time.Second}}
	backend, err := d.DialContext(r.Context(), "tcp", loc.Host)
	if err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("connecting to the node: %v", err))
	}
	defer backend.Close()
	out := &http.Request{Method: r.Method, URL: loc, Host: loc.Host, Header: r.Header.Clone(), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
	for _, h := range droppedHeaders {
		out.Header.Del(h)
	}
	for h := range out.Header {
		if strings.HasPrefix(h, "Impersonate-") {
			out.Header.Del(h)
		}
	}
	if err := out.Write(backend); err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("writing to the node: %v", err))
	}
	br := bufio.NewReader(backend)
	resp, err := http.ReadResponse(br, out)
	if err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("reading the node's answer: %v", err))
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, io.LimitReader(resp.Body, maxNodeErrorBody))
		return nil
	}
	client, cbuf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("hijacking the connection: %w", err))
	}
	defer client.Close()
	fmt.Fprintf(cbuf, "HTTP/1.1 %s\r\n", resp.Status)
	resp.Header.Write(cbuf)
	cbuf.WriteString("\r\n")
	if err := cbuf.Flush(); err != nil {
		return nil
	}
	// Bytes the client sent after its request, and the node after its
	// answer, are already buffered in cbuf and br.
	toNode := make(chan struct{})
	go func() {
		defer close(toNode)
		io.Copy(backend, io.MultiReader(io.LimitReader(cbuf.Reader, int64(cbuf.Reader.Buffered())), client))
		if cw, ok := backend.(interface{ CloseWrite() error }); ok {
			cw.CloseWrite()
		}
	}()
	// The session ends when the node is done; the client's half may still
	// be open, and closing it ends the copy above.
	io.Copy(client, br)
	client.Close()
	<-toNode
	return nil
}
