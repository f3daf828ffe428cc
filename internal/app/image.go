package app

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"berth.dev/berth/internal/agent"
	"berth.dev/berth/internal/agent/image"
)

// defaultDataDir is where berth keeps its state unless --data-dir says
// otherwise.
const defaultDataDir = agent.DefaultDataDir

// imageStoreDir is the node agent's image store under a data directory.
func imageStoreDir(dataDir string) string {
	return filepath.Join(dataDir, "agent", "images")
}

func imageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage this node's images",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(imageImportCommand(), imageListCommand())
	return cmd
}

func openImageStore(dataDir string) (*image.Store, error) {
	return image.New(image.Config{Dir: imageStoreDir(dataDir)})
}

func imageImportCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import images from docker save archives or OCI layouts (directories or tar files)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := openImageStore(dataDir)
			if err != nil {
				return err
			}
			defer s.Close()
			w := cmd.OutOrStdout()
			for _, a := range args {
				imgs, err := s.Import(cmd.Context(), a)
				if err != nil {
					return err
				}
				for _, img := range imgs {
					names := strings.Join(img.RepoTags, " ")
					if names == "" {
						names = "<none>"
					}
					if _, err := fmt.Fprintf(w, "imported %s %s\n", names, img.ID); err != nil {
						return err
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir, "berth's data directory")
	return cmd
}

func imageListCommand() *cobra.Command {
	var dataDir string
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List this node's images",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openImageStore(dataDir)
			if err != nil {
				return err
			}
			defer s.Close()
			var rows []string
			for _, img := range s.List() {
				id := strings.TrimPrefix(img.ID, "sha256:")[:13]
				size := humanSize(img.Size)
				if len(img.RepoTags) == 0 {
					rows = append(rows, fmt.Sprintf("<none>\t<none>\t%s\t%s\n", id, size))
				}
				for _, t := range img.RepoTags {
					i := strings.LastIndexByte(t, ':')
					rows = append(rows, fmt.Sprintf("%s\t%s\t%s\t%s\n", t[:i], t[i+1:], id, size))
				}
			}
			slices.Sort(rows)
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
			fmt.Fprint(tw, "IMAGE\tTAG\tIMAGE ID\tSIZE\n")
			for _, r := range rows {
				fmt.Fprint(tw, r)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", defaultDataDir, "berth's data directory")
	return cmd
}

// humanSize formats bytes as crictl does: "1.2MB", in powers of 1000.
func humanSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	f := float64(n)
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}
