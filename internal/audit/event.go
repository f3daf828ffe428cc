package audit

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	authnv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/auth"
)

// Annotation keys of the authorization decision, as upstream's.
const (
	AnnotationDecision = "authorization.k8s.io/decision"
	AnnotationReason   = "authorization.k8s.io/reason"
)

// Event is upstream's audit.k8s.io/v1 Event.
type Event struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Level      Level  `json:"level"`
	AuditID    string `json:"auditID"`
	Stage      Stage  `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	// User is empty for requests whose credentials failed authentication.
	User             authnv1.UserInfo  `json:"user"`
	ImpersonatedUser *authnv1.UserInfo `json:"impersonatedUser,omitempty"`
	SourceIPs        []string          `json:"sourceIPs,omitempty"`
	UserAgent        string            `json:"userAgent,omitempty"`
	ObjectRef        *ObjectReference  `json:"objectRef,omitempty"`
	ResponseStatus   *metav1.Status    `json:"responseStatus,omitempty"`
	// RequestObject (levels Request and RequestResponse) and
	// ResponseObject (RequestResponse) are the bodies as JSON.
	RequestObject            json.RawMessage   `json:"requestObject,omitempty"`
	ResponseObject           json.RawMessage   `json:"responseObject,omitempty"`
	RequestReceivedTimestamp metav1.MicroTime  `json:"requestReceivedTimestamp"`
	StageTimestamp           metav1.MicroTime  `json:"stageTimestamp"`
	Annotations              map[string]string `json:"annotations,omitempty"`
}

// ObjectReference names what a resource request addresses.
type ObjectReference struct {
	Resource    string `json:"resource,omitempty"`
	Namespace   string `json:"namespace,omitempty"`
	Name        string `json:"name,omitempty"`
	UID         string `json:"uid,omitempty"`
	APIGroup    string `json:"apiGroup,omitempty"`
	APIVersion  string `json:"apiVersion,omitempty"`
	Subresource string `json:"subresource,omitempty"`
}

// EventList is upstream's audit.k8s.io/v1 EventList, as webhooks receive it.
type EventList struct {
	Kind       string          `json:"kind"`
	APIVersion string          `json:"apiVersion"`
	Metadata   metav1.ListMeta `json:"metadata"`
	Items      []Event         `json:"items"`
}

// Sink receives events, each encoded as one JSON object. Process must not
// block for long; it may keep event.
type Sink interface {
	Process(event []byte)
}

// Config configures an Auditor.
type Config struct {
	// Policy decides what is recorded; nil means DefaultPolicy.
	Policy *Policy
	// Sinks receive every event.
	Sinks  []Sink
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Auditor evaluates the policy for requests and hands their events to the
// sinks. It is safe for concurrent use. A nil *Auditor records nothing.
type Auditor struct {
	policy *Policy
	sinks  []Sink
	log    *slog.Logger
	now    func() time.Time
}

// New builds an Auditor.
func New(cfg Config) *Auditor {
	if cfg.Policy == nil {
		cfg.Policy = DefaultPolicy()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Auditor{policy: cfg.Policy, sinks: cfg.Sinks, log: cfg.Logger.With("component", "audit"), now: cfg.Now}
}

// Evaluate returns the policy's decision for a request.
func (a *Auditor) Evaluate(attrs auth.Attributes) Decision {
	if a == nil {
		return Decision{Level: LevelNone}
	}
	return a.policy.Evaluate(attrs)
}

// Start begins the record of a request the policy decided d about (d.Level
// must not be None), received at received, and emits its RequestReceived
// event unless the policy omits it.
func (a *Auditor) Start(d Decision, r *http.Request, attrs auth.Attributes, received time.Time) *Recorder {
	rec := &Recorder{a: a, d: d, ev: a.baseEvent(d.Level, r, attrs, received)}
	rec.ev.User = userInfo(attrs.User)
	rec.emit(StageRequestReceived)
	return rec
}

// FailedAuthentication records a request refused with 401 because its
// credentials did not authenticate: one ResponseStarted event without a
// user, whose status says which credentials were tried, as upstream's.
func (a *Auditor) FailedAuthentication(r *http.Request, attrs auth.Attributes, received time.Time) {
	d := a.Evaluate(attrs)
	if d.Level == LevelNone {
		return
	}
	rec := &Recorder{a: a, d: d, ev: a.baseEvent(d.Level, r, attrs, received)}
	rec.ev.ResponseStatus = &metav1.Status{Message: authMethods(r), Code: http.StatusUnauthorized}
	rec.emit(StageResponseStarted)
}

func (a *Auditor) baseEvent(level Level, r *http.Request, attrs auth.Attributes, received time.Time) Event {
	id := r.Header.Get("Audit-ID")
	if id == "" {
		id = uuid.NewString()
	}
	ev := Event{
		Kind: "Event", APIVersion: APIVersion,
		Level: level, AuditID: id, RequestURI: r.URL.RequestURI(), Verb: attrs.Verb,
		SourceIPs: sourceIPs(r), UserAgent: r.UserAgent(),
		RequestReceivedTimestamp: metav1.NewMicroTime(received.UTC()),
	}
	if attrs.IsResource {
		ev.ObjectRef = &ObjectReference{
			Resource: attrs.Resource, Namespace: attrs.Namespace, Name: attrs.Name,
			APIGroup: attrs.APIGroup, APIVersion: attrs.APIVersion, Subresource: attrs.Subresource,
		}
	}
	return ev
}

// emit stamps the event with stage and the time and hands it to the sinks.
func (a *Auditor) emitEvent(ev *Event) {
	b, err := json.Marshal(ev)
	if err != nil {
		a.log.Error("encoding an audit event failed", "auditID", ev.AuditID, "err", err)
		return
	}
	for _, s := range a.sinks {
		s.Process(b)
	}
}

func userInfo(u auth.User) authnv1.UserInfo {
	ui := authnv1.UserInfo{Username: u.Name, UID: u.UID, Groups: u.Groups}
	if len(u.Extra) > 0 {
		ui.Extra = make(map[string]authnv1.ExtraValue, len(u.Extra))
		for k, v := range u.Extra {
			ui.Extra[k] = v
		}
	}
	return ui
}

// sourceIPs lists X-Forwarded-For, then X-Real-Ip, then the peer's
// address, without repeats, as upstream does.
func sourceIPs(r *http.Request) []string {
	var ips []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if net.ParseIP(s) == nil {
			return
		}
		for _, ip := range ips {
			if ip == s {
				return
			}
		}
		ips = append(ips, s)
	}
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		for _, s := range strings.Split(xff, ",") {
			add(s)
		}
	}
	add(r.Header.Get("X-Real-Ip"))
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	add(host)
	return ips
}

// authMethods says which credentials a request carried, in upstream's words.
func authMethods(r *http.Request) string {
	var m []string
	if _, _, ok := r.BasicAuth(); ok {
		m = append(m, "basic")
	}
	if scheme, _, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " "); ok && strings.EqualFold(scheme, "bearer") {
		m = append(m, "bearer")
	}
	if strings.TrimSpace(r.URL.Query().Get("access_token")) != "" {
		m = append(m, "access_token")
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		m = append(m, "x509")
	}
	if len(m) == 0 {
		return "Authentication failed, no credentials provided"
	}
	return fmt.Sprintf("Authentication failed, attempted: %s", strings.Join(m, ", "))
}
