package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// clients keeps one HTTP client per CA bundle and server name.
type clients struct {
	mu     sync.Mutex
	byConf map[string]*http.Client
}

func newClients() *clients { return &clients{byConf: map[string]*http.Client{}} }

func (c *clients) get(caBundle []byte, serverName string) (*http.Client, error) {
	key := serverName + "\x00" + string(caBundle)
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.byConf[key]; cl != nil {
		return cl, nil
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if len(caBundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caBundle) {
			return nil, errors.New("caBundle holds no PEM certificate")
		}
		tlsCfg.RootCAs = pool
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 8}}
	c.byConf[key] = cl
	return cl, nil
}

// endpoint returns the URL a webhook is called at and the name its
// certificate must carry ("" to take the URL's host).
func (c *caller) endpoint(cc admissionregistrationv1.WebhookClientConfig) (string, string, error) {
	if cc.URL != nil {
		return *cc.URL, "", nil
	}
	ref := cc.Service
	if ref == nil {
		return "", "", errors.New("webhook has neither url nor service")
	}
	port := int32(443)
	if ref.Port != nil {
		port = *ref.Port
	}
	addr, err := c.serviceAddress(ref.Namespace, ref.Name, port)
	if err != nil {
		return "", "", err
	}
	path := ""
	if ref.Path != nil {
		path = *ref.Path
	}
	u := url.URL{Scheme: "https", Host: addr, Path: path}
	return u.String(), ref.Name + "." + ref.Namespace + ".svc", nil
}

// serviceAddress picks the first ready endpoint of the Service's port.
func (c *caller) serviceAddress(namespace, name string, port int32) (string, error) {
	obj, err := c.objects.Get(schema.GroupResource{Resource: "services"}, namespace, name)
	if err != nil {
		return "", fmt.Errorf("service %s/%s: %w", namespace, name, err)
	}
	svc := obj.(*corev1.Service)
	var portName string
	found := false
	for _, p := range svc.Spec.Ports {
		if p.Port == port {
			portName, found = p.Name, true
		}
	}
	if !found {
		return "", fmt.Errorf("service %s/%s has no port %d", namespace, name, port)
	}
	sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
	slices, err := c.objects.List(schema.GroupResource{Group: discoveryv1.GroupName, Resource: "endpointslices"}, namespace, sel)
	if err != nil {
		return "", err
	}
	for _, o := range slices {
		es := o.(*discoveryv1.EndpointSlice)
		for _, p := range es.Ports {
			if p.Port == nil || (p.Name != nil && *p.Name != portName) || (p.Name == nil && portName != "") {
				continue
			}
			for _, ep := range es.Endpoints {
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready || len(ep.Addresses) == 0 {
					continue
				}
				return net.JoinHostPort(ep.Addresses[0], strconv.Itoa(int(*p.Port))), nil
			}
		}
	}
	return "", fmt.Errorf("service %s/%s has no ready endpoints for port %d", namespace, name, port)
}
