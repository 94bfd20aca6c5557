// Package shared holds what the commands that read the mapping catalog
// share (`nexus catalog`, `nexus map`, and `nexus job` with --store local):
// the --store flag and opening the store it names, completion of framework
// keys, and turning the pipeline's errors into the CLI's typed errors.
package shared

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nexus-compliance/nexus/aws/dynamo"
	"github.com/nexus-compliance/nexus/commands/cmdutil"
	"github.com/nexus-compliance/nexus/commands/iostreams"
	"github.com/nexus-compliance/nexus/pipeline"
	"github.com/nexus-compliance/nexus/pipeline/demo"
	"github.com/nexus-compliance/nexus/pipeline/mapper"
	"github.com/nexus-compliance/nexus/pipeline/store/local"
)

// The values of --store.
const (
	StoreLocal    = "local"
	StoreDynamoDB = "dynamodb"
)

// StoreKinds lists the values of --store.
var StoreKinds = []string{StoreLocal, StoreDynamoDB}

// Store is an open store and where it is.
type Store struct {
	pipeline.Store
	Kind     string // local or dynamodb
	Location string // the file, or the environment's tables
	// Seeded is true when this open loaded the demo catalog into a new
	// local store.
	Seeded bool
}

// Opener opens the store a command works on; the caller closes it.
type Opener func(ctx context.Context) (*Store, error)

// AddStoreFlag adds --store to cmd. Its default is empty: DefaultStore
// decides when the command runs.
func AddStoreFlag(cmd *cobra.Command, kind *string) {
	cmd.Flags().StringVar(kind, "store", "", "where the catalog and jobs live: local (the embedded store, $NEXUS_STORE_PATH or $XDG_DATA_HOME/nexus/nexus.db) or dynamodb (the environment's tables); default: local unless an environment is configured")
	_ = cmd.RegisterFlagCompletionFunc("store", cobra.FixedCompletions(StoreKinds, cobra.ShellCompDirectiveNoFileComp))
}

// DefaultStore is the store used when --store is not given: the
// environment's DynamoDB tables once an environment is configured (--env,
// NEXUS_ENV, or any environment in the config file), else the local store,
// so a fresh machine maps with no AWS account.
func DefaultStore(f *cmdutil.Factory) string {
	if f.Flags.Env != "" || f.Getenv("NEXUS_ENV") != "" {
		return StoreDynamoDB
	}
	if file, err := f.ConfigFile(); err == nil && len(file.Environments) > 0 {
		return StoreDynamoDB
	}
	return StoreLocal
}

// CheckStoreKind validates a --store value as a usage error.
func CheckStoreKind(kind string) error {
	switch kind {
	case "", StoreLocal, StoreDynamoDB:
		return nil
	}
	return cmdutil.FlagErrorf("invalid --store %q: use local (the embedded store on this machine) or dynamodb (the environment's tables)", kind)
}

// NewOpener returns the Opener for the --store value *kind points to, read
// when the opener is called. A new, empty local store is loaded with the
// demo catalog, so that mapping works on a fresh machine.
func NewOpener(f *cmdutil.Factory, kind *string) Opener {
	return func(ctx context.Context) (*Store, error) {
		if err := CheckStoreKind(*kind); err != nil {
			return nil, err
		}
		chosen := *kind
		if chosen == "" {
			chosen = DefaultStore(f)
		}
		if chosen == StoreDynamoDB {
			return OpenDynamoDB(ctx, f)
		}
		return OpenLocal(ctx, f.Getenv, local.Options{Now: f.Now})
	}
}

// OpenLocal opens the local store named by NEXUS_STORE_PATH or the XDG
// default, loading the demo catalog into it when it is empty.
func OpenLocal(ctx context.Context, getenv func(string) string, opts local.Options) (*Store, error) {
	path, err := local.DefaultPath(getenv)
	if err != nil {
		return nil, err
	}
	s, err := local.Open(path, opts)
	if err != nil {
		return nil, err
	}
	seeded := false
	if !opts.ReadOnly {
		if seeded, err = demo.LoadIfEmpty(ctx, s); err != nil {
			_ = s.Close()
			return nil, err
		}
	}
	return &Store{Store: s, Kind: StoreLocal, Location: path, Seeded: seeded}, nil
}

// OpenDynamoDB opens the store over the environment's six Nexus tables.
func OpenDynamoDB(ctx context.Context, f *cmdutil.Factory) (*Store, error) {
	env, err := f.Environment()
	if err != nil {
		return nil, err
	}
	client, err := f.DynamoDB(ctx)
	if err != nil {
		return nil, err
	}
	loc := fmt.Sprintf("DynamoDB tables of environment %q (%s, %s)", env.Name, env.Tables.Frameworks, env.Tables.Controls)
	return &Store{Store: dynamo.NewStore(client, env.Tables), Kind: StoreDynamoDB, Location: loc}, nil
}

// NoteSeeded tells the user, on stderr, that the demo catalog was loaded.
func NoteSeeded(io *iostreams.IOStreams, s *Store) {
	if s == nil || !s.Seeded {
		return
	}
	fmt.Fprintf(io.ErrOut, "Created the local store %s with the demo catalog (%s → %s); import real catalogs with `nexus catalog import`.\n",
		s.Location, demo.SourceFramework, demo.TargetFramework)
}

// CompleteFrameworks completes framework keys from the store --store names.
// It waits at most a second for the store, so a busy store never hangs the
// shell.
func CompleteFrameworks(open Opener) cobra.CompletionFunc {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := open(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer s.Close()
		fws, err := s.Frameworks(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, fw := range fws {
			if strings.HasPrefix(fw.Key, toComplete) {
				out = append(out, cobra.CompletionWithDesc(fw.Key, fw.Title))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// CompleteControls completes a control key: framework keys followed by '#'
// until one is chosen, then that framework's control keys.
func CompleteControls(open Opener) cobra.CompletionFunc {
	return func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s, err := open(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		defer s.Close()
		fws, err := s.Frameworks(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, fw := range fws {
			prefix := fw.Key + "#"
			switch {
			case strings.HasPrefix(toComplete, prefix):
				cs, err := s.Controls(ctx, fw.Key)
				if err != nil {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				for _, c := range cs {
					if !c.Withdrawn && strings.HasPrefix(c.Key, toComplete) {
						out = append(out, cobra.CompletionWithDesc(c.Key, c.Title))
					}
				}
				return out, cobra.ShellCompDirectiveNoFileComp
			case strings.HasPrefix(prefix, toComplete):
				out = append(out, cobra.CompletionWithDesc(prefix, fw.Title))
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// Err turns the pipeline's errors into the CLI's: malformed keys are usage
// errors (exit 2); unknown controls, frameworks and target ids are
// not-found errors (exit 5) that say what exists instead.
func Err(err error) error {
	var (
		ke  *pipeline.KeyError
		cnf *mapper.ControlNotFoundError
		fnf *mapper.FrameworkNotFoundError
		ute *mapper.UnknownTargetsError
		nte *mapper.NoTargetsError
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke):
		return &cmdutil.FlagError{Err: err}
	case errors.As(err, &cnf):
		hint := ""
		fw, _, _ := pipeline.SplitControlKey(cnf.Key)
		switch {
		case len(cnf.Suggestions) > 0:
			hint = "Did you mean: " + strings.Join(cnf.Suggestions, ", ") + "\nList them all: nexus catalog controls " + fw
		case len(cnf.Frameworks) > 0:
			hint = fmt.Sprintf("The catalog has no framework %s; it holds %s.\nImport one with `nexus catalog import`, or list them: nexus catalog frameworks",
				fw, strings.Join(cnf.Frameworks, ", "))
		default:
			hint = "List the framework's controls: nexus catalog controls " + fw
		}
		return &cmdutil.NotFoundError{What: "control", Name: cnf.Key, Hint: hint}
	case errors.As(err, &fnf):
		hint := "The catalog holds no framework yet: import one with `nexus catalog import`."
		if len(fnf.Available) > 0 {
			hint = "Available frameworks: " + strings.Join(fnf.Available, ", ")
		}
		return &cmdutil.NotFoundError{What: "framework", Name: fnf.Key, Hint: hint}
	case errors.As(err, &ute):
		bad := append(append([]string(nil), ute.Unknown...), ute.Withdrawn...)
		hint := ""
		if len(ute.Unknown) > 0 {
			hint = fmt.Sprintf("%s holds no control %s.", ute.Framework, strings.Join(ute.Unknown, ", "))
		}
		if len(ute.Withdrawn) > 0 {
			hint = strings.TrimSpace(hint + fmt.Sprintf(" Withdrawn, so not mapped to: %s.", strings.Join(ute.Withdrawn, ", ")))
		}
		hint += "\nList the live controls: nexus catalog controls " + ute.Framework
		return &cmdutil.NotFoundError{What: "target controls", Name: strings.Join(bad, ","), Hint: hint}
	case errors.As(err, &nte):
		return &cmdutil.NotFoundError{What: "controls of framework", Name: nte.Framework,
			Hint: "It has no live control to map to; import them with `nexus catalog import --oscal FILE`."}
	}
	return err
}

// SortFrameworks orders frameworks by key.
func SortFrameworks(fws []pipeline.Framework) {
	sort.Slice(fws, func(i, j int) bool { return fws[i].Key < fws[j].Key })
}
