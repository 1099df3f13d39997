package cloud

import (
	"context"
	"errors"
	"sync"
)

// PublishTask is a publication running in the background of a serving strato
// (the operator endpoint starts it and polls it). Tasks live in memory: a
// restart ends them, and the next publication removes what they left.
type PublishTask struct {
	ID string

	mu     sync.Mutex
	lines  []string
	done   bool
	err    error
	images []PublishedImage
}

// StartPublish runs PublishImage in the background, among the Cloud's block
// jobs (Close stops it and waits for it).
func (c *Cloud) StartPublish(req PublishRequest) *PublishTask {
	t := &PublishTask{ID: NewID("publish")}
	started := c.jobs.goOnce(t.ID, func(ctx context.Context) {
		list, err := c.PublishImage(ctx, req, t.say)
		t.finish(list, err)
	})
	if !started {
		t.finish(nil, errors.New("strato is shutting down"))
	}
	return t
}

func (t *PublishTask) say(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, line)
}

func (t *PublishTask) finish(list []PublishedImage, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done, t.images, t.err = true, list, err
}

// Status returns the progress lines from index from on, whether the task has
// ended, and then its images or its error.
func (t *PublishTask) Status(from int) (lines []string, done bool, images []PublishedImage, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if from < 0 || from > len(t.lines) {
		from = len(t.lines)
	}
	return append([]string(nil), t.lines[from:]...), t.done, t.images, t.err
}
