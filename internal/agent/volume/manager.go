package volume

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// The kubelet's plugin directory names, so the layout under a pod's
// volumes directory is the one Kubernetes users and tools know.
const (
	kindEmptyDir    = "kubernetes.io~empty-dir"
	kindConfigMap   = "kubernetes.io~configmap"
	kindSecret      = "kubernetes.io~secret"
	kindDownwardAPI = "kubernetes.io~downward-api"
	kindProjected   = "kubernetes.io~projected"
)

// DefaultLocalPathProvisioner is the provisioner name of berth's
// local-path provisioner, whose PV directories Setup creates when missing.
const DefaultLocalPathProvisioner = "berth.dev/local-path"

// Config configures a Manager.
type Config struct {
	// DataDir is the agent's data directory; pod volumes live under
	// <DataDir>/agent/pods/<uid>/volumes/<kind>/<name>. Required.
	DataDir string
	// Client reads ConfigMaps, Secrets, PersistentVolumeClaims and
	// PersistentVolumes and requests ServiceAccount tokens, with the
	// node's identity. Required.
	Client kubernetes.Interface
	// Allocatable is the node's allocatable resources: the size of a
	// memory emptyDir without sizeLimit, and the downward API value of a
	// limit a container does not set.
	Allocatable corev1.ResourceList
	// LocalPathProvisioner names the provisioner (annotation
	// pv.kubernetes.io/provisioned-by) whose local PVs get their directory
	// created on first use; DefaultLocalPathProvisioner when empty.
	LocalPathProvisioner string
	// Now is the clock for token refreshes; time.Now when nil.
	Now func() time.Time
}

// Volume is a pod volume set up on the host.
type Volume struct {
	// Path is the directory (or, for hostPath, possibly the file) on the
	// host that containers mount.
	Path string
	// ReadOnly is true when every mount of the volume must be read-only:
	// API data volumes (configMap, secret, downwardAPI, projected) always,
	// hostPath never, a claim when the pod's volume says so.
	ReadOnly bool
}

// Manager sets up and tears down pod volumes. It is safe for concurrent
// use; calls for the same pod must not run concurrently (the pod worker
// serializes them).
type Manager struct {
	cfg Config

	mu sync.Mutex
	// tokens holds the ServiceAccount tokens of projected volumes, by pod
	// UID and then by volume name and file path. Guarded by mu.
	tokens map[types.UID]map[string]token
	// volumes holds the result of each pod's last Setup, for Mounts.
	// Guarded by mu.
	volumes map[types.UID]map[string]Volume
}

// New returns a Manager.
func New(cfg Config) (*Manager, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("volume: DataDir is required")
	}
	if cfg.Client == nil {
		return nil, errors.New("volume: Client is required")
	}
	if cfg.LocalPathProvisioner == "" {
		cfg.LocalPathProvisioner = DefaultLocalPathProvisioner
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Manager{cfg: cfg, tokens: map[types.UID]map[string]token{}, volumes: map[types.UID]map[string]Volume{}}, nil
}

// podDir returns <DataDir>/agent/pods/<uid>, refusing UIDs that are not a
// single path element.
func (m *Manager) podDir(uid types.UID) (string, error) {
	s := string(uid)
	if s == "" || s == "." || s == ".." || filepath.Base(s) != s {
		return "", fmt.Errorf("invalid pod UID %q", uid)
	}
	return filepath.Join(m.cfg.DataDir, "agent", "pods", s), nil
}

// Setup makes every volume of pod ready on the host and returns them by
// volume name. It is idempotent: calling it again (after an agent restart,
// or to retry an error) keeps what is in place and rewrites data volumes
// whose content changed. ConfigMaps and Secrets that are missing fail
// Setup unless the volume marks them optional.
func (m *Manager) Setup(ctx context.Context, pod *corev1.Pod) (map[string]Volume, error) {
	dir, err := m.podDir(pod.UID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]Volume, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		vol, err := m.setupVolume(ctx, pod, dir, v)
		if err != nil {
			return nil, fmt.Errorf("setting up volume %q: %w", v.Name, err)
		}
		out[v.Name] = vol
	}
	m.mu.Lock()
	m.volumes[pod.UID] = out
	m.mu.Unlock()
	return out, nil
}

func (m *Manager) setupVolume(ctx context.Context, pod *corev1.Pod, podDir string, v *corev1.Volume) (Volume, error) {
	src := &v.VolumeSource
	if kind, ok := dataKind(src); ok {
		p := filepath.Join(podDir, "volumes", kind, v.Name)
		return Volume{Path: p, ReadOnly: true}, m.writeData(ctx, pod, p, v)
	}
	switch {
	case src.EmptyDir != nil:
		p := filepath.Join(podDir, "volumes", kindEmptyDir, v.Name)
		if src.EmptyDir.Medium == corev1.StorageMediumMemory {
			if err := mountTmpfs(p, m.tmpfsSize(src.EmptyDir)); err != nil {
				return Volume{}, err
			}
		} else if err := makeEmptyDir(p); err != nil {
			return Volume{}, err
		}
		return Volume{Path: p}, applyFSGroup(p, pod)
	case src.HostPath != nil:
		hp := src.HostPath
		if hp.Type == nil || *hp.Type == corev1.HostPathUnset {
			// As container runtimes do for a missing bind source.
			if _, err := os.Lstat(hp.Path); os.IsNotExist(err) {
				if err := os.MkdirAll(hp.Path, 0o755); err != nil {
					return Volume{}, fmt.Errorf("creating hostPath directory: %w", err)
				}
			}
		}
		return Volume{Path: hp.Path}, checkHostPath(hp.Path, hp.Type)
	case src.PersistentVolumeClaim != nil:
		p, err := m.claimPath(ctx, pod.Namespace, src.PersistentVolumeClaim.ClaimName)
		return Volume{Path: p, ReadOnly: src.PersistentVolumeClaim.ReadOnly}, err
	}
	return Volume{}, errors.New("unsupported volume type")
}

// dataKind reports whether src is an API data volume, written by the
// atomic writer and rewritten by Refresh, and its directory kind.
func dataKind(src *corev1.VolumeSource) (string, bool) {
	switch {
	case src.ConfigMap != nil:
		return kindConfigMap, true
	case src.Secret != nil:
		return kindSecret, true
	case src.DownwardAPI != nil:
		return kindDownwardAPI, true
	case src.Projected != nil:
		return kindProjected, true
	}
	return "", false
}

// makeEmptyDir creates a world-writable directory unless it exists; an
// existing one keeps its mode (and the setgid bit of an fsGroup).
func makeEmptyDir(p string) error {
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	if err := os.MkdirAll(p, 0o777); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	// MkdirAll honours the umask; an emptyDir is world-writable.
	if err := os.Chmod(p, 0o777); err != nil {
		return fmt.Errorf("setting mode: %w", err)
	}
	return nil
}

func (m *Manager) tmpfsSize(ed *corev1.EmptyDirVolumeSource) int64 {
	if ed.SizeLimit != nil && !ed.SizeLimit.IsZero() {
		return ed.SizeLimit.Value()
	}
	mem := m.cfg.Allocatable[corev1.ResourceMemory]
	return mem.Value()
}

// claimPath returns the host directory of a claim bound to a local or
// hostPath PersistentVolume, creating it for local-path provisioned PVs.
func (m *Manager) claimPath(ctx context.Context, ns, claim string) (string, error) {
	pvc, err := m.cfg.Client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading claim: %w", err)
	}
	if pvc.Status.Phase != corev1.ClaimBound || pvc.Spec.VolumeName == "" {
		return "", fmt.Errorf("persistentvolumeclaim %q is not bound", claim)
	}
	pv, err := m.cfg.Client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading persistent volume: %w", err)
	}
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path, checkHostPath(pv.Spec.HostPath.Path, pv.Spec.HostPath.Type)
	case pv.Spec.Local != nil:
		p := pv.Spec.Local.Path
		if pv.Annotations["pv.kubernetes.io/provisioned-by"] == m.cfg.LocalPathProvisioner {
			if err := os.MkdirAll(p, 0o777); err != nil {
				return "", fmt.Errorf("creating local volume directory: %w", err)
			}
			if err := os.Chmod(p, 0o777); err != nil {
				return "", fmt.Errorf("setting mode of local volume directory: %w", err)
			}
		}
		info, err := os.Stat(p)
		if err != nil {
			return "", fmt.Errorf("local volume %s: %w", pv.Name, err)
		}
		if !info.IsDir() {
			return "", fmt.Errorf("local volume %s: %s is not a directory", pv.Name, p)
		}
		return p, nil
	}
	return "", fmt.Errorf("persistent volume %s is neither local nor hostPath", pv.Name)
}

// Refresh rewrites the configMap, secret, downwardAPI and projected
// volumes of pod whose content changed since they were written, and
// renews projected ServiceAccount tokens past 80% of their lifetime. The
// worker calls it periodically for running pods; each volume's update is
// atomic for readers.
func (m *Manager) Refresh(ctx context.Context, pod *corev1.Pod) error {
	dir, err := m.podDir(pod.UID)
	if err != nil {
		return err
	}
	var errs []error
	for i := range pod.Spec.Volumes {
		v := &pod.Spec.Volumes[i]
		kind, ok := dataKind(&v.VolumeSource)
		if !ok {
			continue
		}
		if err := m.writeData(ctx, pod, filepath.Join(dir, "volumes", kind, v.Name), v); err != nil {
			errs = append(errs, fmt.Errorf("refreshing volume %q: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Teardown unmounts everything below the pod's volumes and subPath
// directories (memory emptyDirs, subPath binds) and removes them, forgetting its
// tokens. Host paths and persistent volumes are left untouched. It is
// idempotent; a pod that was never set up is not an error.
func (m *Manager) Teardown(ctx context.Context, uid types.UID) error {
	dir, err := m.podDir(uid)
	if err != nil {
		return err
	}
	// Subpath binds first: they may pin files of the volumes.
	for _, sub := range []string{"volume-subpaths", "volumes"} {
		p := filepath.Join(dir, sub)
		if err := unmountAll(p); err != nil {
			return err
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("removing pod volumes: %w", err)
		}
	}
	m.mu.Lock()
	delete(m.tokens, uid)
	delete(m.volumes, uid)
	m.mu.Unlock()
	return nil
}

// Pods returns the UIDs of the pods that have volumes on disk, so that the
// worker can tear down those of pods that are gone (after an agent restart,
// say).
func (m *Manager) Pods() ([]types.UID, error) {
	entries, err := os.ReadDir(filepath.Join(m.cfg.DataDir, "agent", "pods"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing pod directories: %w", err)
	}
	var out []types.UID
	for _, e := range entries {
		for _, sub := range []string{"volumes", "volume-subpaths"} {
			if _, err := os.Stat(filepath.Join(m.cfg.DataDir, "agent", "pods", e.Name(), sub)); err == nil {
				out = append(out, types.UID(e.Name()))
				break
			}
		}
	}
	return out, nil
}
