package iostreams

import (
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress reports work done on stderr. It is safe for concurrent use. When
// stderr is not a terminal every method is a no-op, so commands call it
// unconditionally.
type Progress struct {
	bar *progressbar.ProgressBar
}

// StartProgress shows a bar with counts and rate when total > 0, or a spinner
// with a running count when total is unknown (< 0). unit names what is
// counted ("msg", "item").
func (s *IOStreams) StartProgress(label string, total int64, unit string) *Progress {
	if !s.stderrTTY {
		return &Progress{}
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(s.ErrOut),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionEnableColorCodes(!s.noColor),
	}
	if total < 0 {
		opts = append(opts, progressbar.OptionSpinnerType(14))
	}
	if s.width > 0 {
		opts = append(opts, progressbar.OptionSetWidth(min(40, s.width/3)))
	}
	return &Progress{bar: progressbar.NewOptions64(total, opts...)}
}

// Add counts n more units done.
func (p *Progress) Add(n int) {
	if p == nil || p.bar == nil {
		return
	}
	_ = p.bar.Add(n)
}

// Describe changes the label.
func (p *Progress) Describe(label string) {
	if p == nil || p.bar == nil {
		return
	}
	p.bar.Describe(label)
}

// Stop clears the bar so the final summary starts on a clean line.
func (p *Progress) Stop() {
	if p == nil || p.bar == nil {
		return
	}
	_ = p.bar.Finish()
	_ = p.bar.Clear()
}
