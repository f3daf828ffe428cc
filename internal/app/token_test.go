package app

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/internal/auth/bootstrap"
)

func TestTokenCommands(t *testing.T) {
	s := apiservertest.Start(t)
	client := kubernetes.NewForConfigOrDie(s.Admin)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

	j, err := createToken(ctx, client, s.PKI.CAPEM(), 2*time.Hour, "for rack 4", now)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := bootstrap.ParseJoinToken(j.String())
	if err != nil {
		t.Fatalf("the printed join token does not parse: %v", err)
	}
	block, _ := pem.Decode(s.PKI.CAPEM())
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !parsed.MatchesCA(ca) {
		t.Error("the join token does not pin the cluster CA")
	}
	secret, err := client.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-"+j.Token.ID, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for k, v := range secret.Data {
		got[k] = string(v)
	}
	want := map[string]string{
		"token-id": j.Token.ID, "token-secret": j.Token.Secret, "expiration": "2026-03-01T12:00:00Z",
		"description": "for rack 4", "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true",
		"auth-extra-groups": bootstrap.NodeGroup,
	}
	if diff := cmp.Diff(want, got); diff != "" || secret.Type != bootstrap.SecretType {
		t.Errorf("Secret %s (-want +got):\n%s", secret.Type, diff)
	}
	forever, err := createToken(ctx, client, s.PKI.CAPEM(), 0, "", now)
	if err != nil {
		t.Fatal(err)
	}

	var out bytes.Buffer
	if err := listTokens(ctx, client, &out, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") {
		t.Fatalf("list:\n%s", out.String())
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		switch f[0] {
		case j.Token.ID:
			if !strings.Contains(l, "1h0m0s") || !strings.Contains(l, "authentication,signing") || !strings.Contains(l, "for rack 4") {
				t.Errorf("list line %q", l)
			}
		case forever.Token.ID:
			if !strings.Contains(l, "<forever>") || !strings.Contains(l, "<never>") {
				t.Errorf("list line %q", l)
			}
		default:
			t.Errorf("unexpected line %q", l)
		}
		if strings.Contains(l, j.Token.Secret) || strings.Contains(l, forever.Token.Secret) {
			t.Errorf("list shows a secret: %q", l)
		}
	}

	if id, err := deleteToken(ctx, client, j.String()); err != nil || id != j.Token.ID {
		t.Fatalf("delete by join token: %q, %v", id, err)
	}
	if _, err := client.CoreV1().Secrets("kube-system").Get(ctx, "bootstrap-token-"+j.Token.ID, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after delete: %v", err)
	}
	if _, err := deleteToken(ctx, client, forever.Token.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := deleteToken(ctx, client, forever.Token.ID); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("deleting twice: %v", err)
	}
	if _, err := deleteToken(ctx, client, "../etc"); err == nil {
		t.Error("a malformed ID was accepted")
	}
}
