package ivr

import "time"

// Event is something that happened to a call that its Run must react to.
// The set is closed: only this package defines events.
type Event interface{ isEvent() }

// EventPlaybackDone reports that the last Play ran to its end. The owner
// sends none for a playback it stopped because of StopPlayback or a newer
// Play.
type EventPlaybackDone struct{}

// EventDigit reports a DTMF digit from the caller: '0'-'9', '*', '#' or
// 'A'-'D' (RFC 4733 §3.2). Lower-case 'a'-'d' are taken as upper case; other
// bytes are ignored.
type EventDigit struct{ Digit byte }

// EventTimeout reports that the time returned by Run.Deadline has come.
// A timeout delivered before the deadline, or when there is none, is stale
// and ignored.
type EventTimeout struct{}

func (EventPlaybackDone) isEvent() {}
func (EventDigit) isEvent()        {}
func (EventTimeout) isEvent()      {}

// Action is something a Run asks its owner to do, in the order returned.
// The set is closed: only this package defines actions.
type Action interface{ isAction() }

// Play starts playing Prompts one after another, replacing whatever was
// playing. When the last one ends the owner sends EventPlaybackDone. If
// Interruptible, a digit stops the playback (the Run also says so with
// StopPlayback); otherwise digits are recorded but do not stop it.
type Play struct {
	Prompts       []string
	Interruptible bool
}

// StopPlayback stops the current playback at once; no EventPlaybackDone
// follows for it.
type StopPlayback struct{}

// Enqueue hands the caller to the ACD queue; the Run is done. The other
// fields are what the queue node says of the call (see config.QueueNode).
type Enqueue struct {
	Queue       string
	Priority    int
	HasPriority bool
	Tags        []string
	Agent       string
	AgentWait   time.Duration
}

// Hangup ends the call; Reason goes into the CDR. The Run is done.
type Hangup struct{ Reason string }

// Voicemail takes a message from the caller. The Run is done.
type Voicemail struct{}

// OfferCallback offers the caller a callback that will wait in Queue. The
// Run is done.
type OfferCallback struct{ Queue string }

func (Voicemail) isAction()     {}
func (OfferCallback) isAction() {}
func (Play) isAction()          {}
func (StopPlayback) isAction()  {}
func (Enqueue) isAction()       {}
func (Hangup) isAction()        {}
