package image

import (
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func dockerConfigJSONSecret(name, auths string) corev1.Secret {
	s := corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":` + auths + `}`)}}
	s.Name = name
	return s
}

func dockercfgSecret(name, cfg string) corev1.Secret {
	s := corev1.Secret{Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{corev1.DockerConfigKey: []byte(cfg)}}
	s.Name = name
	return s
}

func basicAuth(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

func TestKeyringLookup(t *testing.T) {
	secrets := []corev1.Secret{
		dockerConfigJSONSecret("hub", `{"https://index.docker.io/v1/": {"auth": "`+basicAuth("hub", "p1")+`"}}`),
		dockerConfigJSONSecret("quay", `{
			"quay.io": {"username": "quay", "password": "p2"},
			"quay.io/private": {"username": "quay-private", "password": "p3"},
			"*.example.com": {"username": "glob", "password": "p4"},
			"registry.example.com:5000": {"username": "port", "password": "p5"}
		}`),
		dockercfgSecret("legacy", `{"http://legacy.example.org/v2/": {"auth": "`+base64.RawStdEncoding.EncodeToString([]byte("legacy:p:6"))+`"}}`),
		{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte("not json")}},
	}
	k, err := NewKeyring(secrets)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		image string
		want  []Credential
	}{
		{"busybox", []Credential{{"hub", "p1"}}},
		{"docker.io/library/busybox:1.36", []Credential{{"hub", "p1"}}},
		{"someone/app", []Credential{{"hub", "p1"}}},
		{"quay.io/coreos/etcd", []Credential{{"quay", "p2"}}},
		{"quay.io/private/app", []Credential{{"quay-private", "p3"}, {"quay", "p2"}}},
		{"eu.example.com/app", []Credential{{"glob", "p4"}}},
		{"a.eu.example.com/app", nil},
		{"example.com/app", nil},
		{"registry.example.com/app", []Credential{{"glob", "p4"}}},
		{"registry.example.com:5000/app", []Credential{{"port", "p5"}}},
		{"legacy.example.org/x/y:z", []Credential{{"legacy", "p:6"}}},
		{"ghcr.io/app", nil},
		{"localhost:5000/app", nil},
	}
	for _, tt := range tests {
		t.Run(tt.image, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, k.Lookup(tt.image)); diff != "" {
				t.Errorf("Lookup(%q) (-want +got):\n%s", tt.image, diff)
			}
		})
	}
}

func TestKeyringDockerHubKeys(t *testing.T) {
	// "docker.io" as written by `kubectl create secret docker-registry
	// --docker-server=docker.io` matches Docker Hub images directly.
	k, err := NewKeyring([]corev1.Secret{dockerConfigJSONSecret("s", `{"docker.io": {"username": "u", "password": "p"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Credential{{"u", "p"}}, k.Lookup("nginx")); diff != "" {
		t.Errorf("Lookup(nginx) (-want +got):\n%s", diff)
	}
	if got := k.Lookup("quay.io/nginx"); got != nil {
		t.Errorf("Lookup(quay.io/nginx) = %v, want none", got)
	}
}

func TestKeyringInvalid(t *testing.T) {
	for name, s := range map[string]corev1.Secret{
		"bad json":      dockerConfigJSONSecret("s", `[`),
		"bad base64":    dockerConfigJSONSecret("s", `{"quay.io": {"auth": "%%%"}}`),
		"auth no colon": dockerConfigJSONSecret("s", `{"quay.io": {"auth": "`+base64.StdEncoding.EncodeToString([]byte("user"))+`"}}`),
		"bad dockercfg": dockercfgSecret("s", `"x"`),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewKeyring([]corev1.Secret{s}); err == nil {
				t.Error("NewKeyring accepted a malformed Secret")
			}
		})
	}
	var zero *Keyring
	if got := zero.Lookup("busybox"); got != nil {
		t.Errorf("nil Keyring Lookup = %v", got)
	}
}
