package cmdutil

import (
	"fmt"
	"os/user"

	"github.com/nexus-compliance/nexus/runbooks/audit"
)

// Audit completes r with time, user and environment, appends it to the
// audit log and prints its one-line form on stderr. A failure to write the
// log is reported but does not undo or fail the action it records.
func (f *Factory) Audit(r audit.Record) audit.Record {
	r.Time = f.Now().UTC()
	if r.User == "" {
		r.User = "unknown"
		if u, err := user.Current(); err == nil {
			r.User = u.Username
		}
	}
	if r.Environment == "" {
		if env, err := f.Environment(); err == nil {
			r.Environment = env.Name
		}
	}
	fmt.Fprintln(f.IOStreams.ErrOut, r.Line())
	if err := audit.Append(audit.DefaultPath(f.Getenv), r); err != nil {
		fmt.Fprintf(f.IOStreams.ErrOut, "warning: %v\n", err)
	}
	return r
}
