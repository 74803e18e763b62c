"""``rasa_speedups``' event checks by class (``event_checks``): the tracker's applied events,
its prior trackers and its state after ``update`` are Rasa's on every prefix of every rule and
test story and on random event sequences with reverts, restarts, sessions and loops; an ABC
registration made later is seen; objects that are no Event still get Rasa's error."""

from __future__ import annotations

from tests.bot.test_rasa_speedups import run_in_rasa_env

_EVENT_CHECKS = """
import gc, json, random, sys, time
from rasa.core.training import load_data
from rasa.shared.core.domain import Domain
from rasa.shared.core import events as ev
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
import rasa_speedups

domain = Domain.load("domain.yml")
T = DialogueStateTracker
rasas = (T.applied_events, T.update, T.generate_all_prior_trackers)
rasa_speedups.install()
ours = (T.applied_events, T.update, T.generate_all_prior_trackers)
assert ours[0] is rasa_speedups._applied_events and rasas[0] is rasa_speedups._rasa_applied_events

def use(methods):
    T.applied_events, T.update, T.generate_all_prior_trackers = methods

sequences = []
for path in sys.argv[1:]:
    for tracker in load_data(path, domain, augmentation_factor=0):
        events = list(tracker.events)
        sequences += [events[:i] for i in range(1, len(events) + 1)]
rng = random.Random(8)
forms = [f for f in domain.form_names] or ["garbage_form"]

def random_event():
    form = rng.choice(forms)
    return rng.choice([
        lambda: ev.ActionExecuted("action_listen"),
        lambda: ev.ActionExecuted(form, hide_rule_turn=rng.random() < 0.3),
        lambda: ev.ActionExecuted("action_answer_faq"),
        lambda: ev.UserUttered("x", {"name": "ask_faq", "confidence": 0.9}),
        lambda: ev.ActiveLoop(form), lambda: ev.ActiveLoop(None),
        lambda: ev.ActionExecutionRejected(form), lambda: ev.SlotSet("requested_slot", "district"),
        lambda: ev.ActionReverted(), lambda: ev.UserUtteranceReverted(), lambda: ev.Restarted(),
        lambda: ev.SessionStarted(), lambda: ev.FollowupAction("action_listen"),
        lambda: ev.BotUttered("hi"), lambda: ev.DefinePrevUserUtteredFeaturization(False),
        lambda: ev.LoopInterrupted(True), lambda: ev.AllSlotsReset(),
    ])()

for _ in range(2000):
    sequences.append([random_event() for _ in range(rng.randint(1, 30))])

def run(methods):
    use(methods)
    out = []
    for i, events in enumerate(sequences):
        tracker = T.from_events(f"s{i}", events, domain.slots)
        applied = tracker.applied_events()
        prior = list(tracker.generate_all_prior_trackers())
        out.append([[id(e) for e in applied],
                    [[t.current_state(EventVerbosity.ALL), hidden] for t, hidden in prior],
                    tracker.current_state(EventVerbosity.ALL)])
    return out

def cpu_us(methods):
    use(methods)
    gc.collect()
    gc.disable()
    start = time.thread_time()
    for i, events in enumerate(sequences):
        tracker = T.from_events(f"s{i}", events, domain.slots)
        tracker.applied_events()
        list(tracker.generate_all_prior_trackers())
    spent = time.thread_time() - start
    gc.enable()
    return spent * 1e6 / len(sequences)

theirs_out, ours_out = run(rasas), run(ours)
timings = [[cpu_us(rasas), cpu_us(ours)] for _ in range(3)]
theirs_us, ours_us = min(t[0] for t in timings), min(t[1] for t in timings)
differ = [i for i, (a, b) in enumerate(zip(theirs_out, ours_out)) if a != b]

# A virtual subclass registered later: the checks see it (ABC cache token).
class Marker(ev.Event):
    type_name = "madoguchi_marker"
    def apply_to(self, tracker): pass
    def as_dict(self): return {"event": self.type_name, "timestamp": self.timestamp}
    def as_story_string(self): return None
    def __hash__(self): return 1
    def __eq__(self, other): return isinstance(other, Marker)

seq = [ev.ActionExecuted("action_listen"), ev.UserUttered("x"), Marker(), ev.BotUttered("y")]
before = T.from_events("m", seq, domain.slots).applied_events()
ev.SessionStarted.register(Marker)
use(rasas)
registered_theirs = [type(e).__name__ for e in T.from_events("m", seq, domain.slots).applied_events()]
use(ours)
registered_ours = [type(e).__name__ for e in T.from_events("m", seq, domain.slots).applied_events()]

errors = []
for methods in (rasas, ours):
    use(methods)
    try:
        T("e", domain.slots).update({"event": "user"})
        errors.append(None)
    except ValueError as e:
        errors.append(str(e))
print(json.dumps({"sequences": len(sequences), "differ": differ[:5], "cpu_us": [theirs_us, ours_us],
                  "marker_before": [type(e).__name__ for e in before],
                  "registered": [registered_theirs, registered_ours], "errors": errors}))
"""


def test_event_checks_by_class_give_rasas_trackers(settings) -> None:  # type: ignore[no-untyped-def]
    project = settings.rasa.project_dir.resolve()
    got = run_in_rasa_env(settings, _EVENT_CHECKS,
                          str((settings.rasa.data_dir / "rules.yml").resolve()),
                          str(project / "tests" / "test_stories.yml"), timeout=900)
    assert got["sequences"] > 2000 and got["differ"] == [], got["differ"]
    assert got["marker_before"] == ["ActionExecuted", "UserUttered", "Marker", "BotUttered"]
    # Registered as a SessionStarted, the marker resets the applied events in both.
    assert got["registered"][0] == got["registered"][1] == ["BotUttered"]
    assert got["errors"][0] == got["errors"][1] and "instance of a subclass of Event" in got["errors"][0]
    theirs_us, ours_us = got["cpu_us"]
    print(f"CPU µs per sequence (tracker, applied events, prior trackers): Rasa's {theirs_us:.0f}, "
          f"by class {ours_us:.0f}")
    assert ours_us < theirs_us, got["cpu_us"]
