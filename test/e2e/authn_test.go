package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"

	"berth.dev/berth/internal/auth/bootstrap"
)

// tokenKubectl returns a kubectl runner against s that authenticates with
// token alone: the admin kubeconfig's cluster, no client certificate.
func (s *server) tokenKubectl(t *testing.T, token string) kubectlCmd {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(s.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range cfg.AuthInfos {
		a.ClientCertificateData, a.ClientKeyData = nil, nil
		a.Token = token
	}
	path := filepath.Join(t.TempDir(), "token.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return kubectlCmd{bin: kubectlPath(t), kubeconfig: path, cacheDir: t.TempDir()}
}

// authenticatedAs checks that k's requests run as user: `kubectl auth
// whoami` (a SelfSubjectReview, which system:basic-user grants every
// authenticated user) answers with user.
func authenticatedAs(t *testing.T, k kubectlCmd, user string) {
	t.Helper()
	r := k.exec(t, nil, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
	if r.code != 0 || r.stdout != user {
		t.Fatalf("kubectl auth whoami: want %q\n%s", user, r)
	}
}

func unauthorized(t *testing.T, k kubectlCmd) bool {
	t.Helper()
	r := k.exec(t, nil, "auth", "whoami")
	return r.code != 0 && strings.Contains(r.stderr, "Unauthorized")
}

func TestServiceAccountTokenWithKubectl(t *testing.T) {
	s := startServer(t)
	ctx := t.Context()
	// The serviceaccount controller makes the default ServiceAccount.
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return s.kubectlWith(kubectlPath(t)).exec(t, nil, "get", "serviceaccount", "default").code == 0, nil
	})
	if err != nil {
		t.Fatal("no default ServiceAccount")
	}
	token := strings.TrimSpace(s.kubectl(t, "create", "token", "default", "--duration=10m"))
	if strings.Count(token, ".") != 2 {
		t.Fatalf("kubectl create token printed %q", token)
	}
	k := s.tokenKubectl(t, token)
	authenticatedAs(t, k, "system:serviceaccount:default:default")

	// Too short a duration is refused as upstream refuses it.
	r := s.kubectlErr(t, "create", "token", "default", "--duration=5m")
	if !strings.Contains(r.stderr, "may not specify a duration less than 10 minutes") {
		t.Errorf("--duration=5m: %s", r)
	}
	// A token for another audience is not good for the API.
	vault := strings.TrimSpace(s.kubectl(t, "create", "token", "default", "--audience=vault"))
	if !unauthorized(t, s.tokenKubectl(t, vault)) {
		t.Error("a token for audience vault authenticated to the API")
	}
	// The issuer's discovery document is served.
	doc := s.kubectl(t, "get", "--raw", "/.well-known/openid-configuration")
	if !strings.Contains(doc, `"issuer":"https://kubernetes.default.svc.cluster.local"`) {
		t.Errorf("openid-configuration: %s", doc)
	}

	// A token bound to a pod works until the pod is gone.
	// (serviceAccountName is spelled out: no ServiceAccount admission fills it yet.)
	s.kubectl(t, "run", "bound", "--image=busybox", "--restart=Never", `--overrides={"spec":{"serviceAccountName":"default"}}`)
	podToken := strings.TrimSpace(s.kubectl(t, "create", "token", "default", "--bound-object-kind", "Pod", "--bound-object-name", "bound"))
	pk := s.tokenKubectl(t, podToken)
	authenticatedAs(t, pk, "system:serviceaccount:default:default")
	s.kubectl(t, "delete", "pod", "bound", "--grace-period=0", "--force")
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return unauthorized(t, pk), nil
	})
	if err != nil {
		t.Fatal("the pod-bound token still authenticates after its pod was deleted")
	}

	s.kubectl(t, "delete", "serviceaccount", "default")
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return unauthorized(t, k), nil
	})
	if err != nil {
		t.Fatal("the token still authenticates after its ServiceAccount was deleted")
	}
}

func TestBootstrapTokenCommands(t *testing.T) {
	s := startServer(t)
	out, err := exec.CommandContext(t.Context(), berthBinary, "token", "create", "--data-dir", s.dataDir, "--ttl", "1h", "--description", "e2e").Output()
	if err != nil {
		t.Fatalf("berth token create: %v", err)
	}
	j, err := bootstrap.ParseJoinToken(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("berth token create printed %q: %v", out, err)
	}
	k := s.tokenKubectl(t, j.Token.String())
	authenticatedAs(t, k, "system:bootstrap:"+j.Token.ID)

	list, err := exec.CommandContext(t.Context(), berthBinary, "token", "list", "--data-dir", s.dataDir).Output()
	if err != nil || !strings.Contains(string(list), j.Token.ID) || !strings.Contains(string(list), "e2e") || strings.Contains(string(list), j.Token.Secret) {
		t.Fatalf("berth token list: %v\n%s", err, list)
	}
	if out, err := exec.CommandContext(t.Context(), berthBinary, "token", "delete", "--data-dir", s.dataDir, j.Token.ID).CombinedOutput(); err != nil {
		t.Fatalf("berth token delete: %v\n%s", err, out)
	}
	err = wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return unauthorized(t, k), nil
	})
	if err != nil {
		t.Fatal("the bootstrap token still authenticates after berth token delete")
	}
}
