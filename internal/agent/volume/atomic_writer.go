package volume

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File is one file of a data volume's payload.
type File struct {
	Data []byte
	Mode fs.FileMode
}

const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// writeAtomic makes dir hold exactly payload (relative slash paths to
// files), laid out as the kubelet's atomic writer: the files live in a
// hidden timestamped directory, "..data" is a symlink to it, and each
// top-level entry of the payload is a symlink through "..data". An update
// writes a new timestamped directory and renames a new "..data" symlink
// over the old one, so readers see the old or the new content, never a
// mix. It reports whether anything changed; an equal payload is left alone.
//
// A non-nil fsGroup gives the new files and directories that group, adds
// group read to files and group read and search plus setgid to
// directories, as the kubelet's ownership change for read-only volumes.
func writeAtomic(dir string, payload map[string]File, fsGroup *int64) (bool, error) {
	if fsGroup != nil {
		grouped := make(map[string]File, len(payload))
		for p, f := range payload {
			grouped[p] = File{Data: f.Data, Mode: f.Mode.Perm() | 0o440}
		}
		payload = grouped
	}
	for p := range payload {
		if err := validatePayloadPath(p); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("creating volume directory: %w", err)
	}
	oldTS, err := os.Readlink(filepath.Join(dir, dataDirName))
	if err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("reading %s link: %w", dataDirName, err)
	}
	if oldTS != "" {
		same, err := payloadEqual(filepath.Join(dir, oldTS), payload)
		if err != nil {
			return false, err
		}
		if same {
			return false, nil
		}
	}
	tsDir, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, fmt.Errorf("creating timestamped directory: %w", err)
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return false, fmt.Errorf("setting mode of %s: %w", tsDir, err)
	}
	for p, f := range payload {
		full := filepath.Join(tsDir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return false, fmt.Errorf("creating directory for %s: %w", p, err)
		}
		if err := os.WriteFile(full, f.Data, f.Mode.Perm()); err != nil {
			return false, fmt.Errorf("writing %s: %w", p, err)
		}
		// WriteFile honours the umask; the mode is the pod's to choose.
		if err := os.Chmod(full, f.Mode.Perm()); err != nil {
			return false, fmt.Errorf("setting mode of %s: %w", p, err)
		}
	}
	if fsGroup != nil {
		if err := setOwnership(tsDir, *fsGroup, true); err != nil {
			return false, err
		}
	}
	tmpLink := filepath.Join(dir, newDataDirName)
	if err := os.Remove(tmpLink); err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("removing stale %s: %w", newDataDirName, err)
	}
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		return false, fmt.Errorf("creating %s link: %w", newDataDirName, err)
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataDirName)); err != nil {
		return false, fmt.Errorf("swapping %s link: %w", dataDirName, err)
	}
	if err := syncUserLinks(dir, payload); err != nil {
		return false, err
	}
	// The previous version, and any left by a write that crashed before
	// its swap.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("reading volume directory: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "..") && e.Name() != filepath.Base(tsDir) {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return false, fmt.Errorf("removing old data directory: %w", err)
			}
		}
	}
	return true, nil
}

// validatePayloadPath refuses paths that would leave the volume or clash
// with the writer's own hidden entries, as the API validation does.
func validatePayloadPath(p string) error {
	if p == "" || path.IsAbs(p) || strings.HasPrefix(p, "..") {
		return fmt.Errorf("invalid volume file path %q", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." || part == "" {
			return fmt.Errorf("invalid volume file path %q", p)
		}
	}
	return nil
}

// syncUserLinks makes the top-level symlinks match the payload's
// top-level entries and removes those of entries no longer present.
func syncUserLinks(dir string, payload map[string]File) error {
	want := map[string]bool{}
	for p := range payload {
		top, _, _ := strings.Cut(p, "/")
		want[top] = true
	}
	for top := range want {
		link := filepath.Join(dir, top)
		target := filepath.Join(dataDirName, top)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		if err := os.Remove(link); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("replacing link %s: %w", top, err)
		}
		if err := os.Symlink(target, link); err != nil {
			return fmt.Errorf("creating link %s: %w", top, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading volume directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") || want[e.Name()] || e.Type()&fs.ModeSymlink == 0 {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("removing stale link %s: %w", e.Name(), err)
		}
	}
	return nil
}

// payloadEqual reports whether tsDir holds exactly payload.
func payloadEqual(tsDir string, payload map[string]File) (bool, error) {
	var have []string
	err := filepath.WalkDir(tsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(tsDir, p)
		if err != nil {
			return err
		}
		have = append(have, filepath.ToSlash(rel))
		return nil
	})
	if os.IsNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading current volume content: %w", err)
	}
	if len(have) != len(payload) {
		return false, nil
	}
	slices.Sort(have)
	for _, p := range have {
		f, ok := payload[p]
		if !ok {
			return false, nil
		}
		full := filepath.Join(tsDir, filepath.FromSlash(p))
		info, err := os.Lstat(full)
		if err != nil {
			return false, fmt.Errorf("reading current volume content: %w", err)
		}
		if info.Mode().Perm() != f.Mode.Perm() {
			return false, nil
		}
		data, err := os.ReadFile(full)
		if err != nil {
			return false, fmt.Errorf("reading current volume content: %w", err)
		}
		if !bytes.Equal(data, f.Data) {
			return false, nil
		}
	}
	return true, nil
}
