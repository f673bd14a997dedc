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

// EventFetched reports the answer to the Fetch with the same Seq: a
// status and body, or Err when there was none (refused, reset, timed out
// at the owner's end).
type EventFetched struct {
	Seq    uint64
	Status int
	Body   []byte
	Err    error
}

// EventTransferDone reports how the last Transfer went: Connected when
// the target answered and the caller is bridged to them (the Run is then
// done); otherwise Result says why not: "busy", "no-answer", "rejected",
// "unavailable" or "failed".
type EventTransferDone struct {
	Connected bool
	Result    string
}

func (EventFetched) isEvent()      {}
func (EventTransferDone) isEvent() {}
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

// Fetch asks the owner to send an HTTP request (a data dip) and report the
// answer with EventFetched{Seq}; the Run itself times out after Timeout
// and goes on without it, so the owner should give up by then too. The
// owner reads at most MaxFetchBody bytes of the answer.
type Fetch struct {
	Seq         uint64
	Node        string
	Method, URL string
	Headers     [][2]string
	Body        []byte
	ContentType string
	Timeout     time.Duration
}

// Transfer asks the owner to connect the caller to one target: Number
// through Trunk (empty: the outbound trunk), Extension (a registered
// phone) or Agent, ringing for up to Timeout, and to report the outcome
// with EventTransferDone. The caller hears ringing meanwhile.
type Transfer struct {
	Number, Trunk, Extension, Agent string
	Timeout                         time.Duration
}

// Note is something the owner should log (a say node that could not speak
// its value, a data dip that failed): the call goes on regardless.
type Note struct{ Text string }

func (Fetch) isAction()         {}
func (Transfer) isAction()      {}
func (Note) isAction()          {}
func (Voicemail) isAction()     {}
func (OfferCallback) isAction() {}
func (Play) isAction()          {}
func (StopPlayback) isAction()  {}
func (Enqueue) isAction()       {}
func (Hangup) isAction()        {}
