package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	// whiteoutMeta prefixes AUFS bookkeeping entries, such as the opaque
	// marker below, which are not files of the image.
	whiteoutMeta   = whiteoutPrefix + whiteoutPrefix
	whiteoutOpaque = whiteoutMeta + ".opq"

	overlayOpaqueXattr = "trusted.overlay.opaque"
	paxXattrPrefix     = "SCHILY.xattr."
)

// unpacker extracts one uncompressed layer tar into root, an empty directory
// that nothing else writes to, as an overlayfs lower directory: a whiteout
// entry ".wh.NAME" becomes a 0/0 character device NAME, an opaque marker
// ".wh..wh..opq" sets trusted.overlay.opaque on its directory. Owners,
// modes (with setuid, setgid, sticky), extended attributes, times, device
// nodes, FIFOs and hard links are kept, so it needs root.
//
// Entries never write outside root: names are cleaned against "/", and an
// entry whose parent is not a real directory of this layer (a symlink, a
// file) is refused rather than followed, since following it could lead out
// of root or into a lower layer that this directory does not contain.
type unpacker struct {
	root string
	// dirs are directories known to be real directories under root,
	// by relative path; "" is root itself.
	dirs map[string]bool
	// dirTimes are the times to set on directories once all their entries
	// are written, which would otherwise change them.
	dirTimes []dirTime
}

type dirTime struct {
	path         string
	atime, mtime time.Time
}

// unpackLayer extracts the layer tar r into root.
func unpackLayer(r io.Reader, root string) error {
	u := &unpacker{root: root, dirs: map[string]bool{"": true}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layer: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("unpacking %q: %w", hdr.Name, err)
		}
	}
	for i := len(u.dirTimes) - 1; i >= 0; i-- {
		d := u.dirTimes[i]
		if err := setTimes(d.path, d.atime, d.mtime); err != nil {
			return err
		}
	}
	return nil
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("the layer root is not a directory")
		}
		return u.attributes(u.root, hdr)
	}
	parent, base := path.Split(rel)
	parent = strings.TrimSuffix(parent, "/")
	if err := u.mkParent(parent); err != nil {
		return err
	}
	dir := filepath.Join(u.root, parent)

	if strings.HasPrefix(base, whiteoutPrefix) {
		switch {
		case base == whiteoutOpaque:
			return unix.Lsetxattr(dir, overlayOpaqueXattr, []byte("y"), 0)
		case strings.HasPrefix(base, whiteoutMeta):
			return nil
		}
		hidden := strings.TrimPrefix(base, whiteoutPrefix)
		if hidden == "" || hidden == "." || hidden == ".." {
			return errors.New("whiteout without a name")
		}
		target := path.Join(parent, hidden)
		if err := u.remove(target); err != nil {
			return err
		}
		return unix.Mknod(filepath.Join(u.root, target), unix.S_IFCHR, 0)
	}

	full := filepath.Join(dir, base)
	fi, err := os.Lstat(full)
	switch {
	case err == nil && fi.IsDir() && hdr.Typeflag == tar.TypeDir:
		// A repeated directory entry: keep its contents, update it below.
	case err == nil:
		if err := u.remove(rel); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := os.Mkdir(full, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		u.dirs[rel] = true
	case tar.TypeReg, tar.TypeGNUSparse: // the reader fills sparse holes
		f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case tar.TypeSymlink:
		if err := os.Symlink(hdr.Linkname, full); err != nil {
			return err
		}
	case tar.TypeLink:
		target, err := u.linkTarget(hdr.Linkname)
		if err != nil {
			return err
		}
		// A hard link shares its target's inode, whose attributes its own
		// entry already set.
		return os.Link(target, full)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknod(full, mode|0o600, int(dev)); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	return u.attributes(full, hdr)
}

// mkParent makes sure that rel is a real directory under root, creating
// missing directories (mode 0755, as other engines do) and refusing any
// component that is something else.
func (u *unpacker) mkParent(rel string) error {
	if u.dirs[rel] {
		return nil
	}
	if parent := path.Dir(rel); parent != "." {
		if err := u.mkParent(parent); err != nil {
			return err
		}
	}
	full := filepath.Join(u.root, rel)
	fi, err := os.Lstat(full)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(full, 0o755); err != nil {
			return err
		}
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%q is not a directory of this layer (%s)", rel, fi.Mode().Type())
	}
	u.dirs[rel] = true
	return nil
}

// linkTarget resolves a hard link's target, which must be an entry of this
// layer that is not a directory.
func (u *unpacker) linkTarget(name string) (string, error) {
	rel := strings.TrimPrefix(path.Clean("/"+name), "/")
	parent := strings.TrimSuffix(path.Dir(rel), ".")
	if rel == "" || !u.dirs[parent] {
		return "", fmt.Errorf("hard link target %q is not in this layer", name)
	}
	full := filepath.Join(u.root, rel)
	fi, err := os.Lstat(full)
	if err != nil {
		return "", fmt.Errorf("hard link target %q: %w", name, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("hard link target %q is a directory", name)
	}
	return full, nil
}

// remove deletes the entry at rel and forgets the directories under it.
func (u *unpacker) remove(rel string) error {
	if err := os.RemoveAll(filepath.Join(u.root, rel)); err != nil {
		return err
	}
	for d := range u.dirs {
		if d == rel || strings.HasPrefix(d, rel+"/") {
			delete(u.dirs, d)
		}
	}
	return nil
}

// attributes sets owner, mode, extended attributes and times, in that
// order: changing the owner clears setuid bits and file capabilities.
func (u *unpacker) attributes(full string, hdr *tar.Header) error {
	if err := os.Lchown(full, hdr.Uid, hdr.Gid); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeSymlink {
		mode := hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if err := os.Chmod(full, mode); err != nil {
			return err
		}
	}
	for key, value := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(key, paxXattrPrefix)
		// overlayfs's own attributes would let an image forge whiteouts or
		// redirects; they come only from the conversion above.
		if !ok || strings.HasPrefix(attr, "trusted.overlay.") {
			continue
		}
		if err := unix.Lsetxattr(full, attr, []byte(value), 0); err != nil {
			return fmt.Errorf("setting extended attribute %s: %w", attr, err)
		}
	}
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	if hdr.Typeflag == tar.TypeDir {
		u.dirTimes = append(u.dirTimes, dirTime{path: full, atime: atime, mtime: hdr.ModTime})
		return nil
	}
	return setTimes(full, atime, hdr.ModTime)
}

func setTimes(full string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, full, ts, unix.AT_SYMLINK_NOFOLLOW)
}
