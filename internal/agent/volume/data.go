package volume

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"berth.dev/berth/internal/agent/env"
)

const defaultFileMode = 0o644

// maxTokenAge bounds the age of a projected token whatever its lifetime,
// as the kubelet's token manager does.
const maxTokenAge = 24 * time.Hour

// token is a ServiceAccount token of a projected volume.
type token struct {
	value   string
	issued  time.Time
	expires time.Time
}

// writeData computes the payload of an API data volume and writes it to
// dir atomically, applying the pod's fsGroup.
func (m *Manager) writeData(ctx context.Context, pod *corev1.Pod, dir string, v *corev1.Volume) error {
	var payload map[string]File
	var err error
	src := &v.VolumeSource
	switch {
	case src.ConfigMap != nil:
		payload, err = m.configMapPayload(ctx, pod.Namespace, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, src.ConfigMap.DefaultMode)
	case src.Secret != nil:
		payload, err = m.secretPayload(ctx, pod.Namespace, src.Secret.SecretName, src.Secret.Items, src.Secret.Optional, src.Secret.DefaultMode)
	case src.DownwardAPI != nil:
		payload, err = m.downwardPayload(pod, src.DownwardAPI.Items, src.DownwardAPI.DefaultMode)
	case src.Projected != nil:
		payload, err = m.projectedPayload(ctx, pod, v.Name, src.Projected)
	}
	if err != nil {
		return err
	}
	var fsGroup *int64
	if sc := pod.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
	}
	_, err = writeAtomic(dir, payload, fsGroup)
	return err
}

func fileMode(item, def *int32) fs.FileMode {
	switch {
	case item != nil:
		return fs.FileMode(*item)
	case def != nil:
		return fs.FileMode(*def)
	}
	return defaultFileMode
}

func isTrue(b *bool) bool { return b != nil && *b }

// keyPayload projects data by items (every key when items is empty), as
// the kubelet's configMap and secret volumes: a missing key is an error
// unless optional.
func keyPayload(data map[string][]byte, items []corev1.KeyToPath, optional bool, defaultMode *int32, missing string) (map[string]File, error) {
	out := map[string]File{}
	if len(items) == 0 {
		for k, v := range data {
			out[k] = File{Data: v, Mode: fileMode(nil, defaultMode)}
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("%s: %v", missing, it.Key)
		}
		out[path.Clean(it.Path)] = File{Data: v, Mode: fileMode(it.Mode, defaultMode)}
	}
	return out, nil
}

func (m *Manager) configMapPayload(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, defaultMode *int32) (map[string]File, error) {
	cm, err := env.GetConfigMap(ctx, m.cfg.Client, ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) && isTrue(optional) {
			return map[string]File{}, nil
		}
		return nil, err
	}
	data := make(map[string][]byte, len(cm.Data)+len(cm.BinaryData))
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	maps.Copy(data, cm.BinaryData)
	return keyPayload(data, items, isTrue(optional), defaultMode, "configmap references non-existent config key")
}

func (m *Manager) secretPayload(ctx context.Context, ns, name string, items []corev1.KeyToPath, optional *bool, defaultMode *int32) (map[string]File, error) {
	s, err := env.GetSecret(ctx, m.cfg.Client, ns, name)
	if err != nil {
		if apierrors.IsNotFound(err) && isTrue(optional) {
			return map[string]File{}, nil
		}
		return nil, err
	}
	return keyPayload(s.Data, items, isTrue(optional), defaultMode, "references non-existent secret key")
}

func (m *Manager) downwardPayload(pod *corev1.Pod, items []corev1.DownwardAPIVolumeFile, defaultMode *int32) (map[string]File, error) {
	out := map[string]File{}
	for _, it := range items {
		var value string
		var err error
		switch {
		case it.FieldRef != nil:
			value, err = env.MetadataValue(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			c := findContainer(pod, it.ResourceFieldRef.ContainerName)
			if c == nil {
				return nil, fmt.Errorf("container %q not found", it.ResourceFieldRef.ContainerName)
			}
			value, err = env.ResourceValue(c, it.ResourceFieldRef, m.cfg.Allocatable)
		}
		if err != nil {
			return nil, fmt.Errorf("downward API item %s: %w", it.Path, err)
		}
		out[path.Clean(it.Path)] = File{Data: []byte(value), Mode: fileMode(it.Mode, defaultMode)}
	}
	return out, nil
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, list := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	return nil
}

func (m *Manager) projectedPayload(ctx context.Context, pod *corev1.Pod, volName string, p *corev1.ProjectedVolumeSource) (map[string]File, error) {
	out := map[string]File{}
	for _, s := range p.Sources {
		var part map[string]File
		var err error
		switch {
		case s.ConfigMap != nil:
			part, err = m.configMapPayload(ctx, pod.Namespace, s.ConfigMap.Name, s.ConfigMap.Items, s.ConfigMap.Optional, p.DefaultMode)
		case s.Secret != nil:
			part, err = m.secretPayload(ctx, pod.Namespace, s.Secret.Name, s.Secret.Items, s.Secret.Optional, p.DefaultMode)
		case s.DownwardAPI != nil:
			part, err = m.downwardPayload(pod, s.DownwardAPI.Items, p.DefaultMode)
		case s.ServiceAccountToken != nil:
			var tok string
			tok, err = m.token(ctx, pod, volName, s.ServiceAccountToken)
			part = map[string]File{path.Clean(s.ServiceAccountToken.Path): {Data: []byte(tok), Mode: fileMode(nil, p.DefaultMode)}}
		default:
			err = fmt.Errorf("unsupported projected volume source")
		}
		if err != nil {
			return nil, err
		}
		maps.Copy(out, part)
	}
	return out, nil
}

// token returns the pod's token for a projection, requesting a new one
// bound to the pod when there is none, 80% of its lifetime has passed, or
// it is older than maxTokenAge.
func (m *Manager) token(ctx context.Context, pod *corev1.Pod, volName string, p *corev1.ServiceAccountTokenProjection) (string, error) {
	key := volName + "/" + p.Path
	now := m.cfg.Now()
	m.mu.Lock()
	t, ok := m.tokens[pod.UID][key]
	m.mu.Unlock()
	if ok && now.Before(t.issued.Add(t.expires.Sub(t.issued)*8/10)) && now.Sub(t.issued) < maxTokenAge {
		return t.value, nil
	}
	exp := int64(3600)
	if p.ExpirationSeconds != nil {
		exp = *p.ExpirationSeconds
	}
	var auds []string
	if p.Audience != "" {
		auds = []string{p.Audience}
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := m.cfg.Client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:         auds,
			ExpirationSeconds: &exp,
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting token for service account %s/%s: %w", pod.Namespace, sa, err)
	}
	// The server may grant another lifetime than asked; the refresh point
	// follows what it granted, measured on our clock.
	if tr.Spec.ExpirationSeconds != nil && *tr.Spec.ExpirationSeconds > 0 {
		exp = *tr.Spec.ExpirationSeconds
	}
	t = token{value: tr.Status.Token, issued: now, expires: now.Add(time.Duration(exp) * time.Second)}
	m.mu.Lock()
	if m.tokens[pod.UID] == nil {
		m.tokens[pod.UID] = map[string]token{}
	}
	m.tokens[pod.UID][key] = t
	m.mu.Unlock()
	return t.value, nil
}
