package app

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"berth.dev/berth/internal/auth/bootstrap"
)

// `berth token` manages bootstrap tokens, the credentials machines join
// with. `berth token create` prints a join token,
//
//	berth1.sha256:<hex>.<id>.<secret>
//
// that carries the SHA-256 of the cluster CA certificate's public key
// (SubjectPublicKeyInfo) besides the bootstrap token <id>.<secret>: the
// joining agent checks the server's CA against the hash before it trusts
// anything the server says, then authenticates with the bootstrap token.
// The token is a Secret bootstrap-token-<id> in kube-system, as kubeadm's;
// the token cleaner deletes it when it expires. The commands talk to the
// running server with <data-dir>/admin.kubeconfig.
func tokenCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and delete the bootstrap tokens that machines join with",
	}
	cmd.PersistentFlags().StringVar(&dataDir, "data-dir", "/var/lib/berth", "data directory of the server (its admin.kubeconfig is used)")

	var ttl time.Duration
	var description string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a bootstrap token and print its join token",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, caPEM, err := adminClient(dataDir)
			if err != nil {
				return err
			}
			j, err := createToken(cmd.Context(), client, caPEM, ttl, description, time.Now())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), j.String())
			return err
		},
	}
	create.Flags().DurationVar(&ttl, "ttl", 24*time.Hour, "how long the token is valid; 0 means it never expires")
	create.Flags().StringVar(&description, "description", "", "what the token is for, shown by `berth token list`")

	list := &cobra.Command{
		Use:   "list",
		Short: "List bootstrap tokens (their secrets are shown only when created)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			client, _, err := adminClient(dataDir)
			if err != nil {
				return err
			}
			return listTokens(cmd.Context(), client, cmd.OutOrStdout(), time.Now())
		},
	}
	del := &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a bootstrap token, given its ID, the token or the join token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			client, _, err := adminClient(dataDir)
			if err != nil {
				return err
			}
			id, err := deleteToken(cmd.Context(), client, args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "bootstrap token %q deleted\n", id)
			return err
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

// adminClient returns a client from <dataDir>/admin.kubeconfig and the
// cluster CA it trusts.
func adminClient(dataDir string) (kubernetes.Interface, []byte, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "admin.kubeconfig"))
	if err != nil {
		return nil, nil, fmt.Errorf("loading the admin kubeconfig: %w", err)
	}
	if len(cfg.CAData) == 0 {
		return nil, nil, errors.New("the admin kubeconfig has no certificate-authority-data")
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return client, cfg.CAData, nil
}

// createToken stores a new bootstrap token for joining nodes, valid for
// ttl from now (forever when 0), and returns its join token, pinned to the
// first certificate of caPEM.
func createToken(ctx context.Context, client kubernetes.Interface, caPEM []byte, ttl time.Duration, description string, now time.Time) (bootstrap.JoinToken, error) {
	if ttl < 0 {
		return bootstrap.JoinToken{}, fmt.Errorf("--ttl %v: must not be negative", ttl)
	}
	block, _ := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return bootstrap.JoinToken{}, errors.New("the cluster CA is not a PEM certificate")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return bootstrap.JoinToken{}, fmt.Errorf("parsing the cluster CA: %w", err)
	}
	for range 5 {
		tok, err := bootstrap.GenerateToken()
		if err != nil {
			return bootstrap.JoinToken{}, err
		}
		data := map[string]string{
			bootstrap.KeyTokenID:         tok.ID,
			bootstrap.KeyTokenSecret:     tok.Secret,
			bootstrap.KeyUsageAuth:       "true",
			bootstrap.KeyUsageSigning:    "true",
			bootstrap.KeyAuthExtraGroups: bootstrap.NodeGroup,
		}
		if ttl > 0 {
			data[bootstrap.KeyExpiration] = now.Add(ttl).UTC().Format(time.RFC3339)
		}
		if description != "" {
			data[bootstrap.KeyDescription] = description
		}
		_, err = client.CoreV1().Secrets(bootstrap.Namespace).Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: tok.SecretName(), Namespace: bootstrap.Namespace},
			Type:       bootstrap.SecretType,
			StringData: data,
		}, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			continue
		}
		if err != nil {
			return bootstrap.JoinToken{}, fmt.Errorf("creating bootstrap token: %w", err)
		}
		return bootstrap.JoinToken{CAHash: bootstrap.CAHash(ca), Token: tok}, nil
	}
	return bootstrap.JoinToken{}, errors.New("creating bootstrap token: every generated ID was taken")
}

// listTokens writes a table of the bootstrap tokens, by ID.
func listTokens(ctx context.Context, client kubernetes.Interface, w io.Writer, now time.Time) error {
	list, err := client.CoreV1().Secrets(bootstrap.Namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("type", bootstrap.SecretType).String(),
	})
	if err != nil {
		return fmt.Errorf("listing bootstrap tokens: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b corev1.Secret) int { return strings.Compare(a.Name, b.Name) })
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	fmt.Fprintln(tw, "ID\tTTL\tEXPIRES\tUSAGES\tDESCRIPTION\tEXTRA GROUPS")
	for _, s := range list.Items {
		id := string(s.Data[bootstrap.KeyTokenID])
		if s.Type != bootstrap.SecretType || s.Name != bootstrap.SecretPrefix+id {
			continue
		}
		ttl, expires := "<forever>", "<never>"
		if exp, ok := bootstrap.Expiration(&s); ok {
			expires = exp.UTC().Format(time.RFC3339)
			ttl = "<expired>"
			if left := exp.Sub(now); left > 0 {
				ttl = left.Round(time.Second).String()
			}
		}
		var usages []string
		for _, k := range []string{bootstrap.KeyUsageAuth, bootstrap.KeyUsageSigning} {
			if string(s.Data[k]) == "true" {
				usages = append(usages, strings.TrimPrefix(k, "usage-bootstrap-"))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, ttl, expires, orNone(strings.Join(usages, ",")),
			orNone(string(s.Data[bootstrap.KeyDescription])), orNone(string(s.Data[bootstrap.KeyAuthExtraGroups])))
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// deleteToken deletes the bootstrap token arg names: an ID, a token
// <id>.<secret> or a join token. It returns the ID.
func deleteToken(ctx context.Context, client kubernetes.Interface, arg string) (string, error) {
	id := arg
	if j, err := bootstrap.ParseJoinToken(arg); err == nil {
		id = j.Token.ID
	} else if t, err := bootstrap.ParseToken(arg); err == nil {
		id = t.ID
	}
	if !bootstrap.ValidID(id) {
		return "", fmt.Errorf("%q is not a bootstrap token ID (6 characters of [a-z0-9])", arg)
	}
	err := client.CoreV1().Secrets(bootstrap.Namespace).Delete(ctx, bootstrap.SecretPrefix+id, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("bootstrap token %q not found", id)
	}
	if err != nil {
		return "", fmt.Errorf("deleting bootstrap token %q: %w", id, err)
	}
	return id, nil
}
