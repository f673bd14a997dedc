package call

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/store"
)

// callbackMenu is where a waiting caller is in choosing a callback.
type callbackMenu uint8

const (
	callbackMenuOff callbackMenu = iota
	// callbackMenuConfirm: "we will call you back at NUMBER; 1 to confirm,
	// 2 for another number".
	callbackMenuConfirm
	// callbackMenuEnter: the caller keys in a number, then #.
	callbackMenuEnter
	// callbackMenuBooked: "thank you, goodbye", then we hang up.
	callbackMenuBooked
)

// callbackMenuTimeout is how long the callback menu waits for a key before
// the caller is back to music, still in their place.
const callbackMenuTimeout = 10 * time.Second

// announce plays the caller's position and estimated wait (or that their
// advisor is coming), then the music resumes.
func (c *Call) announce(a acd.Announce) {
	if c.stage != StageQueued || c.cbMenu != callbackMenuOff {
		return
	}
	var names []string
	if a.WaitingFor != "" {
		names = []string{"waiting_for_agent"}
	} else {
		names = append(names, "you_are_number")
		names = append(names, digitPrompts(strconv.Itoa(a.Position))...)
		names = append(names, "in_line")
		if a.EWT > 0 {
			names = append(names, "estimated_wait")
			if minutes := int((a.EWT + time.Minute - 1) / time.Minute); minutes > 1 {
				names = append(names, digitPrompts(strconv.Itoa(minutes))...)
				names = append(names, "minutes")
			} else {
				names = append(names, "less_than_a_minute")
			}
		}
	}
	if q := c.rt.Config.Queue(c.queueName); q != nil && q.CallbackKey != "" {
		names = append(names, "callback_offer")
	}
	c.musicID = c.caller.Play(media.Playlist{Prompts: c.prompts(names)})
}

// digitPrompts spells a number digit by digit.
func digitPrompts(number string) []string {
	out := make([]string, 0, len(number))
	for _, d := range number {
		if d >= '0' && d <= '9' {
			out = append(out, "digit_"+string(d))
		}
	}
	return out
}

// queuedDigit handles a key pressed while waiting: the queue's callback key
// opens the callback menu, whose keys it then serves.
func (c *Call) queuedDigit(digit byte) {
	q := c.rt.Config.Queue(c.queueName)
	switch c.cbMenu {
	case callbackMenuOff:
		if q == nil || q.CallbackKey == "" || string(digit) != q.CallbackKey || c.agentTransfer {
			return
		}
		c.log.Info("caller asks for a callback")
		c.openCallbackMenu()
	case callbackMenuConfirm:
		switch digit {
		case '1':
			c.bookCallback(c.in.Caller)
		case '2':
			c.enterNumber()
		}
	case callbackMenuEnter:
		switch {
		case digit == '#' && validCallbackNumber(c.cbDigits):
			c.bookCallback(c.cbDigits)
		case digit == '#':
			c.log.Info("callback number refused", "digits", len(c.cbDigits))
			c.menuPrompt("invalid", "callback_enter")
			c.cbDigits = ""
		case digit >= '0' && digit <= '9' && len(c.cbDigits) < 20:
			c.cbDigits += string(digit)
			c.armIVRTimer(c.now().Add(callbackMenuTimeout))
		}
	case callbackMenuBooked:
	}
}

func (c *Call) enterNumber() {
	c.cbMenu, c.cbDigits = callbackMenuEnter, ""
	c.menuPrompt("callback_enter")
}

// menuPrompt plays the callback menu's prompts in place of the music and
// gives the caller callbackMenuTimeout after them to answer.
func (c *Call) menuPrompt(names ...string) {
	c.musicID = 0
	c.playback = c.caller.Play(media.Playlist{Prompts: c.prompts(names)})
	c.armIVRTimer(time.Time{})
}

// callbackMenuTimedOut: the caller did not answer. A caller still in the
// queue is back to music in their place; one the ACD sent here is let go.
func (c *Call) callbackMenuTimedOut() {
	if c.cbMenu != callbackMenuConfirm && c.cbMenu != callbackMenuEnter {
		return
	}
	c.log.Info("callback menu timed out")
	c.cbMenu, c.cbDigits = callbackMenuOff, ""
	if c.stage == StageQueued {
		c.playHoldMusic(false)
		return
	}
	c.hangupBy, c.cause = "system", "callback-declined"
	c.setResult("routed")
	c.endCaller("callback-declined")
}

// callbackMenuPlayed: a menu prompt ended; the answer timer starts, or
// after the goodbye the call ends.
func (c *Call) callbackMenuPlayed() {
	c.playback = 0
	switch c.cbMenu {
	case callbackMenuConfirm, callbackMenuEnter:
		c.armIVRTimer(c.now().Add(callbackMenuTimeout))
	case callbackMenuBooked:
		c.hangupBy, c.cause = "system", "callback-booked"
		c.setResult("callback")
		c.endCaller("callback-booked")
	case callbackMenuOff:
	}
}

// validCallbackNumber: 3 to 20 digits, optionally after a +.
func validCallbackNumber(n string) bool {
	if len(n) > 0 && n[0] == '+' {
		n = n[1:]
	}
	if len(n) < 3 || len(n) > 20 {
		return false
	}
	for _, r := range n {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// bookCallback stores the callback and hands the caller's place to it: a
// caller still in the ACD's queue becomes the callback (CallbackRequested);
// one the ACD already let go (a callback destination) re-enters with their
// original enqueue time (CallbackScheduled).
func (c *Call) bookCallback(number string) {
	q := c.rt.Config.Queue(c.queueName)
	if q == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	id, err := c.m.deps.Store.SaveCallback(ctx, store.Callback{
		Queue: q.Name, Number: number, Priority: c.cdr.Priority, QueuedAt: c.queuedAt,
		MaxAttempts: q.CallbackMaxAttempts, State: store.CallbackPending, OriginCallID: c.id,
	})
	if err != nil {
		c.log.Error("callback not stored", "err", err)
		// The menu stays open: after the prompt its timeout sends the
		// caller back to music (or lets them go).
		c.menuPrompt("error")
		return
	}
	c.log.Info("callback booked", "callback_id", id, "number_digits", len(number))
	if c.stage == StageQueued {
		c.cancelOffers()
		c.m.deps.ACD.Post(acd.CallbackRequested{CallID: c.id, CallbackID: id, Number: number})
	} else {
		c.m.deps.ACD.Post(acd.CallbackScheduled{CallbackID: id, Queue: q.Name, Number: number,
			Priority: c.cdr.Priority, QueuedAt: c.queuedAt, MaxAttempts: q.CallbackMaxAttempts})
	}
	c.cdr.CallbackID = id
	c.cbNumber, c.cbMaxAttempts = number, q.CallbackMaxAttempts
	c.waitOver(c.now())
	// Out of the ACD now: hanging up is not an abandon.
	c.stage = StageCallbackMenu
	c.cbMenu = callbackMenuBooked
	c.menuPrompt("callback_booked")
}

// offerCallback starts the callback menu for a caller the ACD sent to a
// callback destination (max wait, queue full, closed).
func (c *Call) offerCallback() {
	c.stage = StageCallbackMenu
	c.enterStage("callback", store.Stage{Queue: c.queueName})
	c.openCallbackMenu()
}

// openCallbackMenu reads out the caller's number to confirm, or asks for
// one when the caller ID is no usable number.
func (c *Call) openCallbackMenu() {
	if !validCallbackNumber(c.in.Caller) {
		c.enterNumber()
		return
	}
	c.cbMenu = callbackMenuConfirm
	names := append([]string{"callback_number"}, digitPrompts(c.in.Caller)...)
	c.menuPrompt(append(names, "callback_confirm")...)
}

// introduce starts what the queue plays before agent and caller hear each
// other: a whisper to the agent (the queue, VIP, callback) and the agent's
// ID to the caller ("agent 1003 at your service"). The caller hears music
// until then; the bridge follows when both are done.
func (c *Call) introduce() {
	q := c.rt.Config.Queue(c.queueName)
	if q != nil && q.Whisper {
		names := []string{"whisper_queue", "queue_" + c.queueName}
		tags := strings.Split(c.cdr.Tags, ",")
		if c.cdr.Priority >= vipPriority || slices.Contains(tags, "vip") {
			names = append(names, "whisper_vip")
		}
		// Other tags (a business type set by the IVR) are spoken when a
		// prompt "tag_NAME" exists.
		for _, tag := range tags {
			if tag != "" && tag != "vip" && c.rt.Prompts["tag_"+tag] != nil {
				names = append(names, "tag_"+tag)
			}
		}
		if prompts := c.prompts(names); len(prompts) > 0 {
			c.whisperID = c.agentEP.Play(media.Playlist{Prompts: prompts})
		}
	}
	if q != nil && q.AnnounceAgent {
		names := append([]string{"agent_intro"}, digitPrompts(c.agentID)...)
		c.introID = c.caller.Play(media.Playlist{Prompts: c.prompts(append(names, "at_your_service"))})
	}
	c.bridgeWhenIntroduced()
}

// vipPriority is the base priority from which the whisper calls a caller a
// VIP, whatever rule gave it.
const vipPriority = 10

// bridgeWhenIntroduced bridges agent and caller once no introduction is
// playing.
func (c *Call) bridgeWhenIntroduced() {
	if c.whisperID != 0 || c.introID != 0 || c.stage != StageTalking || c.onHold() || c.mix != nil {
		return
	}
	media.Bridge(c.caller, c.agentEP)
}

// voicemailMaxLength bounds a message; then the caller hears goodbye.
const voicemailMaxLength = 2 * time.Minute

// startVoicemail takes a message from a caller the ACD sent to voicemail:
// a greeting and a tone, then the caller speaks until they hang up (or
// voicemailMaxLength). The message is the end of the call's recording; the
// CDR's result is "voicemail", so QA and callbacks teams find them with
// GET /api/v1/calls.
func (c *Call) startVoicemail() {
	c.stage = StageVoicemail
	c.enterStage(store.StageVoicemail, store.Stage{Queue: c.queueName})
	c.ivrTimer.Stop()
	c.musicID = 0
	c.playback = c.caller.Play(media.Playlist{Prompts: c.prompts([]string{"voicemail_greeting", "beep"})})
}

// voicemailGreeted: the tone has played; the caller speaks now.
func (c *Call) voicemailGreeted() {
	c.playback = 0
	c.cdr.VoicemailStart = c.now()
	c.log.Info("voicemail: recording the message")
	c.armIVRTimer(c.now().Add(voicemailMaxLength))
}

func (c *Call) endVoicemail(cause string) {
	c.hangupBy, c.cause = "system", cause
	c.setResult("voicemail")
	c.endCaller(cause)
}

// callbackMenuResult is the CDR result of a call that ends in the callback
// menu.
func (c *Call) callbackMenuResult() string {
	if c.cbMenu == callbackMenuBooked {
		return "callback"
	}
	return "routed"
}
