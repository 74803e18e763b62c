"""The three forms: garbage collection day, nursery application, relocation-subsidy check.

Each form asks with buttons (``action_ask_<slot>``), reads free text as well as entities and
button payloads (``parsing``), and re-asks an answer it cannot read — at most twice; after
the third unreadable answer the validation action drops every required slot, the form ends
and the result action hands the conversation over to staff instead of looping.

Facts come from the knowledge base through the gateway: the garbage schedule table is parsed
by the gateway from the KB's collection-days entry, the nursery and subsidy entries are shown
as the KB states them. What is computed here is only what follows from those entries' rules
(the nursery deadline for a given month, the subsidy's three conditions).
"""

import datetime as dt
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import gateway, parsing, texts
from actions.rules import MAX_NURSERY_AGE, nursery_deadline, relocation_verdict
from actions.actions import end_form_events, hand_over, lang_choice, lang_events, send_entry

# Unreadable answers accepted before handing over (the question is asked, then re-asked twice).
MAX_INVALID = 3
# KB entries the dialogue shows; a city with other ids sets them here.
NURSERY_ENTRY = "childcare.nursery-application"
RELOCATION_ENTRY = "relocation.migration-support-grant"
GARBAGE_ENTRY = "garbage.collection-days"


def _payload(entity: Text, value: Any) -> Text:
    return '/inform{"%s":"%s"}' % (entity, value)


def _district_buttons(lang: Text) -> List[Dict[Text, Text]]:
    names = texts.pick(texts.DISTRICT_NAMES, lang)
    return [{"title": names[d], "payload": _payload("district", d)} for d in parsing.DISTRICTS]


def _age_buttons(lang: Text) -> List[Dict[Text, Text]]:
    label = texts.pick(texts.AGE_BUTTON, lang)
    return [{"title": label.format(n=n), "payload": _payload("child_age", n)} for n in range(6)]


def _month_buttons(lang: Text, today: Optional[dt.date] = None) -> List[Dict[Text, Text]]:
    today = today or dt.date.today()
    months = [4] + [m for m in ((today.month + i - 1) % 12 + 1 for i in range(1, 5)) if m != 4]
    label = texts.pick(texts.MONTH_BUTTON, lang)
    return [
        {"title": label.format(n=m, name=texts.ENGLISH_MONTHS[m - 1]), "payload": _payload("month", m)}
        for m in months
    ]


def _option_buttons(table: Dict, entity: Text) -> Callable[[Text], List[Dict[Text, Text]]]:
    def buttons(lang: Text) -> List[Dict[Text, Text]]:
        options = texts.pick(table, lang)
        return [{"title": title, "payload": _payload(entity, key)} for key, title in options.items()]

    return buttons


class _AskSlot(Action, ABC):
    """Asks for one slot with buttons; after an unreadable answer says so first."""

    question: Dict[Text, Text] = {}

    @property
    @abstractmethod
    def slot(self) -> Text: ...
    buttons: Callable[[Text], List[Dict[Text, Text]]] = staticmethod(lambda lang: [])

    def name(self) -> Text:
        return f"action_ask_{self.slot}"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        choice = lang_choice(tracker)
        text = texts.pick(self.question, choice.lang)
        if (tracker.get_slot("form_retries") or 0) > 0:
            text = f"{texts.pick(texts.REASK, choice.lang)}\n{text}"
        dispatcher.utter_message(text=text, buttons=self.buttons(choice.lang))
        return lang_events(tracker, choice)


class AskDistrict(_AskSlot):
    slot, question = "district", texts.ASK_DISTRICT
    buttons = staticmethod(_district_buttons)


class AskChildAge(_AskSlot):
    slot, question = "child_age", texts.ASK_CHILD_AGE
    buttons = staticmethod(_age_buttons)


class AskStartMonth(_AskSlot):
    slot, question = "start_month", texts.ASK_START_MONTH
    buttons = staticmethod(_month_buttons)


class AskMovedFrom(_AskSlot):
    slot, question = "moved_from", texts.ASK_MOVED_FROM
    buttons = staticmethod(_option_buttons(texts.MOVED_FROM_OPTIONS, "moved_from"))


class AskMovedWhen(_AskSlot):
    slot, question = "moved_when", texts.ASK_MOVED_WHEN
    buttons = staticmethod(_option_buttons(texts.MOVED_WHEN_OPTIONS, "moved_when"))


class AskWorkStatus(_AskSlot):
    slot, question = "work_status", texts.ASK_WORK_STATUS
    buttons = staticmethod(_option_buttons(texts.WORK_STATUS_OPTIONS, "work_status"))


class _Validate(FormValidationAction, ABC):
    """Normalises each answer with a parser; counts unreadable answers; gives up at three.

    The form's own question asked again in the middle of it ("which day is garbage
    collected?" while the district is being asked) is not rejected: the form asks its
    question again. Rejected, Rasa may not predict the form right after its rejection (the
    rule that starts the form is zeroed), and its fallback, the FAQ action, then followed
    itself until the circuit breaker stopped it (docs/load.md).
    """

    parsers: Dict[Text, Callable[[Optional[Text]], Any]] = {}
    # The intent that starts this form.
    start_intent: Text = ""

    @abstractmethod
    def name(self) -> Text: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[Dict[Text, Any]]:
        events = await super().run(dispatcher, tracker, domain)
        if self._asked_again(tracker, events):
            # A slot event keeps Rasa's FormAction from rejecting the message; the
            # question is asked afresh, so without the "didn't catch that" prefix.
            if tracker.get_slot("requested_slot") in self.parsers:  # mid-form, not its start
                asked = list(dispatcher.messages)
                dispatcher.messages.clear()
                events += await self.answer_again(dispatcher, tracker)
                dispatcher.messages.extend(asked)
            events.append(SlotSet("form_retries", 0))
        return events

    async def answer_again(self, dispatcher: CollectingDispatcher,
                           tracker: Tracker) -> List[Dict[Text, Any]]:
        """What the form's start answers before its question, when asked again mid-form."""
        return []

    def _asked_again(self, tracker: Tracker, events: List[Dict[Text, Any]]) -> bool:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        answered = any(e.get("event") == "slot" and e.get("name") != "requested_slot"
                       for e in events)
        return bool(self.start_intent) and intent == self.start_intent and not answered

    async def required_slots(self, domain_slots: List[Text], dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> List[Text]:
        if (tracker.get_slot("form_retries") or 0) >= MAX_INVALID:
            return []
        return domain_slots

    def _check(self, slot: Text, value: Any, tracker: Tracker) -> Dict[Text, Any]:
        parsed = self.parsers[slot](None if value is None else str(value))
        if parsed is None:
            return {slot: None, "form_retries": (tracker.get_slot("form_retries") or 0) + 1}
        return {slot: str(parsed), "form_retries": 0}


class ValidateGarbageForm(_Validate):
    start_intent = "ask_garbage_day"
    parsers = {"district": parsing.district}

    def name(self) -> Text:
        return "validate_garbage_form"

    def validate_district(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                          domain: DomainDict) -> Dict[Text, Any]:
        return self._check("district", value, tracker)


class ValidateNurseryForm(_Validate):
    start_intent = "ask_nursery_application"
    parsers = {"child_age": parsing.child_age, "start_month": parsing.month}

    def name(self) -> Text:
        return "validate_nursery_form"

    async def answer_again(self, dispatcher: CollectingDispatcher,
                           tracker: Tracker) -> List[Dict[Text, Any]]:
        # "When is the nursery deadline?" asked again: the KB's answer again (as
        # action_nursery_overview gives it at the start), then the form's question.
        return await _send_nursery_entry(dispatcher, lang_choice(tracker).lang)

    def validate_child_age(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                           domain: DomainDict) -> Dict[Text, Any]:
        return self._check("child_age", value, tracker)

    def validate_start_month(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self._check("start_month", value, tracker)


class ValidateRelocationForm(_Validate):
    start_intent = "ask_relocation_subsidy"
    parsers = {"moved_from": parsing.moved_from, "moved_when": parsing.moved_when,
               "work_status": parsing.work_status}

    def name(self) -> Text:
        return "validate_relocation_form"

    def validate_moved_from(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> Dict[Text, Any]:
        return self._check("moved_from", value, tracker)

    def validate_moved_when(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> Dict[Text, Any]:
        return self._check("moved_when", value, tracker)

    def validate_work_status(self, value: Any, dispatcher: CollectingDispatcher,
                             tracker: Tracker, domain: DomainDict) -> Dict[Text, Any]:
        return self._check("work_status", value, tracker)


async def _gave_up(dispatcher: CollectingDispatcher, tracker: Tracker, lang: Text) -> List:
    dispatcher.utter_message(text=texts.pick(texts.GAVE_UP, lang))
    return await hand_over(dispatcher, tracker, lang, "form answers not understood")


def garbage_lines(schedule: Dict[Text, List[int]], lang: Text) -> List[Text]:
    """One line per category: "Burnable: Monday, Thursday"."""
    names = texts.pick(texts.GARBAGE_CATEGORIES, lang)
    days = texts.pick(texts.WEEKDAYS, lang)
    sep = "、" if lang in ("ja", "ja-easy", "zh-Hans", "zh-Hant") else ", "
    return [f"{names.get(cat, cat)}: {sep.join(days[d] for d in weekdays)}"
            for cat, weekdays in schedule.items()]


class ActionGarbageDay(Action):
    """The district's collection days, from the table the gateway reads out of the KB."""

    def name(self) -> Text:
        return "action_garbage_day"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        choice = lang_choice(tracker)
        district = tracker.get_slot("district")
        if not district:
            return lang_events(tracker, choice) + await _gave_up(dispatcher, tracker, choice.lang)
        reply = await gateway.get("/api/garbage/schedule", {"district": district, "lang": choice.lang})
        if reply and reply.get("schedule"):
            name = texts.pick(texts.DISTRICT_NAMES, choice.lang).get(district, district)
            lines = [texts.pick(texts.GARBAGE_HEADER, choice.lang).format(district=name)]
            lines += garbage_lines(reply["schedule"], choice.lang)
            lines.append(reply.get("source_url") or "")
            dispatcher.utter_message(text="\n".join(line for line in lines if line))
        else:
            await send_entry(dispatcher, GARBAGE_ENTRY, choice.lang)
        return lang_events(tracker, choice) + [SlotSet("form_retries", 0)]


async def _send_nursery_entry(dispatcher: CollectingDispatcher, lang: Text) -> List:
    """The KB's nursery-application entry; the slot recording it when it was sent."""
    reply = await send_entry(dispatcher, NURSERY_ENTRY, lang)
    return [SlotSet("last_entry_id", NURSERY_ENTRY)] if reply else []


class ActionNurseryOverview(Action):
    """The KB's nursery-application entry, before the questions that make it personal."""

    def name(self) -> Text:
        return "action_nursery_overview"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        choice = lang_choice(tracker)
        sent = await _send_nursery_entry(dispatcher, choice.lang)
        events = lang_events(tracker, choice) + [SlotSet("form_retries", 0)] + sent
        # Answers from an earlier conversation are stale unless this message repeats them.
        entities = {e.get("entity") for e in tracker.latest_message.get("entities") or []}
        if "child_age" not in entities:
            events.append(SlotSet("child_age", None))
        if "month" not in entities:
            events.append(SlotSet("start_month", None))
        return events


def _date_text(lang: Text, month: int, day: int) -> Text:
    return texts.pick(texts.DATE, lang).format(m=month, d=day, month_name=texts.ENGLISH_MONTHS[month - 1])


class ActionNurseryGuidance(Action):
    """The deadline for the child's start month (or why a nursery does not fit)."""

    def name(self) -> Text:
        return "action_nursery_guidance"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        choice = lang_choice(tracker)
        lang = choice.lang
        age, start = tracker.get_slot("child_age"), tracker.get_slot("start_month")
        if age is None or start is None:
            return lang_events(tracker, choice) + await _gave_up(dispatcher, tracker, lang)
        if int(age) > MAX_NURSERY_AGE:
            dispatcher.utter_message(text=texts.pick(texts.NURSERY_TOO_OLD, lang))
        else:
            month, day = nursery_deadline(int(start))
            text = texts.pick(texts.NURSERY_DEADLINE, lang).format(
                month=int(start), month_name=texts.ENGLISH_MONTHS[int(start) - 1],
                deadline=_date_text(lang, month, day),
            )
            contact = await gateway.post("/api/contact", {"department": "kodomo", "lang": lang})
            if contact:
                text += f"\n{contact['department']} {contact['phone']}（{contact['hours']}）"
            dispatcher.utter_message(text=text)
        return lang_events(tracker, choice) + end_form_events(tracker)


class ActionRelocationEligibility(Action):
    """Eligible or not for the 移住支援金, with the rule that decides it and the KB entry."""

    def name(self) -> Text:
        return "action_relocation_eligibility"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict) -> List:
        choice = lang_choice(tracker)
        lang = choice.lang
        answers = [tracker.get_slot(s) for s in ("moved_from", "moved_when", "work_status")]
        if any(a is None for a in answers):
            return lang_events(tracker, choice) + await _gave_up(dispatcher, tracker, lang)
        failed = relocation_verdict(*answers)
        table = texts.RELOCATION_ELIGIBLE if failed is None else texts.RELOCATION_NOT[failed]
        dispatcher.utter_message(text=texts.pick(table, lang))
        await send_entry(dispatcher, RELOCATION_ENTRY, lang)
        return lang_events(tracker, choice) + end_form_events(tracker) + [
            SlotSet("last_entry_id", RELOCATION_ENTRY)
        ]
