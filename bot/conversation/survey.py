"""The survey in chat: rounds of a few questions, answered one tap (or typed number) at a time.

LINE allows five messages per reply, so a round is a sequence: each reply
acknowledges the answer and asks the next question, and the last one thanks the
fan. Every button carries its item, value and round id; a tap is accepted only
when it answers the question the fan's current round is asking, so buttons from
earlier rounds or questions, and forged data, change nothing.

A fan may wander off mid-round (tap マイクーポン, type something else): the detour is
answered, then the open round is offered again where it was. A skipped item moves to
the back of the fan's queue, and after `RETIRE_AFTER_SKIPS` skips it is not asked again
unless a campaign needs it. Each round says how many questions are left overall, and
「今日はここまで」 ends a round cleanly.
"""

from __future__ import annotations

from linebot.v3.messaging import QuickReplyItem, TextMessage

from bot import messages
from bot.conversation.help import ask_for_consent, reply_unknown
from bot.dispatch import Dispatcher, Turn, normalize_text
from bot.postback import Postback, encode
from bot.survey import cached_answer_counts, priority_items
from bot.survey.rounds import (
    CHANGE,
    SURVEY,
    advance,
    close_open_rounds,
    current_round,
    pass_answered_items,
    start_round,
)
from data.answers import AnswerError, answer_count, current_answer, parse_value, record_answer
from data.catalog import Item
from data.consent import has_current_consent
from data.models import Fan, SurveyRound
from data.survey_selection import choose_next_items, items_left, retired_items, skip_history
from data.units import UNITS, format_answer

ROUND_SIZE = 5
SKIP_LABEL = "スキップ"
SKIP_WORDS = {"スキップ", "skip", "パス"}
STOP_LABEL = "今日はここまで"
STOP_WORDS = {
    "今日はここまで",
    "ここまで",
    "やめる",
    "やめます",
    "中断",
    "終わり",
    "おわり",
    "ストップ",
    "stop",
}
SURVEY_KEYWORD = "アンケート"
CHANGE_KEYWORD = "回答変更"
SURVEY_TOPIC = "survey"  # Turn.topics: this turn asked or answered survey questions


def format_value(item: Item, value: float) -> str:
    return format_answer(item.is_yes_no, item.unit, value)


def short_label(text: str) -> str:
    return text if len(text) <= messages.MAX_LABEL else text[: messages.MAX_LABEL - 1] + "…"


def count_buttons(item: Item, round_id: str) -> list[QuickReplyItem]:
    assert item.max is not None and item.unit is not None
    values = [value for value in UNITS[item.unit].buttons if value <= item.max]
    return [
        messages.postback_button(label, encode("answer", item.id, str(value), round_id), label)
        for value, label in ((value, format_value(item, value)) for value in values)
    ][: messages.MAX_QUICK_REPLY_ITEMS - 2]  # room for スキップ and 今日はここまで


def question(
    survey_round: SurveyRound, item: Item, *, lead: str = "", current: float | None = None
) -> TextMessage:
    """The message asking ``item`` in ``survey_round``, with its answer buttons."""
    round_id = str(survey_round.id)
    if survey_round.purpose == CHANGE:
        heading = "【回答の変更】"
        if current is not None:
            heading += f"（いまの回答：{format_value(item, current)}）"
        skip_label = "変更しない"
    else:
        heading = f"【Q{survey_round.position + 1}/{len(survey_round.items)}】"
        skip_label = SKIP_LABEL
    if item.is_yes_no:
        hint = "当てはまりますか？"
        buttons = [
            messages.postback_button("はい", encode("answer", item.id, "1", round_id), "はい"),
            messages.postback_button("いいえ", encode("answer", item.id, "0", round_id), "いいえ"),
        ]
    else:
        assert item.max is not None and item.unit is not None
        unit = UNITS[item.unit]
        # The example shows that words like 「回」 may be typed, as the buttons say them.
        example = unit.example.split("、")[0]
        hint = (
            f"（{unit.meaning}）\nボタンから選ぶか、「{example}」のように送ってください"
            f"（0〜{int(item.max):,}{unit.suffix}）。"
        )
        buttons = count_buttons(item, round_id)
    buttons.append(messages.postback_button(skip_label, encode("skip", item.id, round_id), skip_label))
    if survey_round.purpose != CHANGE:
        buttons.append(stop_button(round_id))
    body = f"{lead}{heading}\n{item.text_ja}\n{hint}"
    return messages.text(body, buttons)


def stop_button(round_id: str) -> QuickReplyItem:
    return messages.postback_button(STOP_LABEL, encode("stop", round_id), STOP_LABEL)


def continue_button(label: str = "続けて答える", display_text: str = "続けて答えます") -> QuickReplyItem:
    # A postback, so the chat shows the fan's natural words, not the keyword 「アンケート」.
    return messages.postback_button(label, encode("survey"), display_text)


def consenting_fan(turn: Turn) -> Fan | None:
    """The fan behind this event if they may answer; otherwise reply why not and return None."""
    fan = turn.find_fan()
    if fan is None:
        reply_unknown(turn)
        return None
    if not has_current_consent(fan, turn.settings.consent_version):
        ask_for_consent(turn)
        return None
    return fan


def open_survey_round(turn: Turn, fan: Fan) -> SurveyRound | None:
    """The fan's fresh survey round that still has a question to ask, if any."""
    survey_round = current_round(turn.session, fan.id, turn.now)
    if survey_round is None or survey_round.purpose != SURVEY:
        return None
    pass_answered_items(turn.session, survey_round, turn.now)
    item_id = survey_round.current_item_id
    return survey_round if item_id is not None and item_id in turn.catalog else None


def next_items(turn: Turn, fan: Fan, k: int) -> tuple[list[str], int]:
    """The next ``k`` items for ``fan`` (skipped ones last, retired ones never) and how many are left."""
    priority = priority_items(turn.session)
    skips = skip_history(turn.session, fan.id)
    retired = retired_items(skips, priority)
    item_ids = choose_next_items(
        turn.session,
        fan.id,
        turn.catalog,
        priority,
        k=k,
        exclude=retired,
        counts=cached_answer_counts(turn.session),
        last=[item_id for item_id in skips if item_id not in retired],
    )
    return item_ids, items_left(turn.session, fan.id, turn.catalog, retired)


def start_survey(turn: Turn, fan: Fan) -> None:
    """Continue the open round where it was, or open a new one of up to `ROUND_SIZE` questions."""
    turn.topics.add(SURVEY_TOPIC)
    if (open_round := open_survey_round(turn, fan)) is not None:
        item = turn.catalog[open_round.current_item_id or ""]
        turn.reply(question(open_round, item, lead="アンケートの続きです。\n\n"))
        return
    item_ids, left = next_items(turn, fan, ROUND_SIZE)
    if not item_ids:
        turn.reply(
            messages.text(
                f"お答えいただける質問は以上です（{answer_count(turn.session, fan.id)}問に"
                "お答えいただきました）。"
                "ありがとうございます！\n"
                "答えを変えたいときは「回答変更」と送ってください。",
                [messages.message_button(CHANGE_KEYWORD)],
            )
        )
        return
    survey_round = start_round(turn.session, fan.id, item_ids, turn.now)
    turn.reply(
        messages.text(
            f"アンケートです。今回は{len(item_ids)}問です（まだお答えいただいていない質問は全部で{left}問）。\n"
            "ボタンをタップするか、回数などは「12回」のように送ってお答えください。"
        ),
        question(survey_round, turn.catalog[item_ids[0]]),
    )


def after_consent(turn: Turn, fan: Fan) -> None:
    start_survey(turn, fan)


def on_survey_keyword(turn: Turn, _text: str) -> None:
    if fan := consenting_fan(turn):
        start_survey(turn, fan)


def on_survey_postback(turn: Turn, _postback: Postback) -> None:
    if fan := consenting_fan(turn):
        start_survey(turn, fan)


def reply_stale(turn: Turn, fan: Fan) -> None:
    """A tap that does not answer the question being asked: say so, and show that question."""
    turn.topics.add(SURVEY_TOPIC)
    turn.reply(messages.text("このボタンは前の質問のもののため、受け付けられませんでした。"))
    survey_round = current_round(turn.session, fan.id, turn.now)
    item_id = survey_round.current_item_id if survey_round is not None else None
    if survey_round is not None and item_id is not None and item_id in turn.catalog:
        current = current_answer(turn.session, fan.id, item_id) if survey_round.purpose == CHANGE else None
        lead = "いまの質問はこちらです。\n"
        turn.reply(question(survey_round, turn.catalog[item_id], lead=lead, current=current))
    else:
        turn.reply(
            messages.text(
                "アンケートの続きは「アンケート」と送ってください。",
                [continue_button("アンケートに答える", "アンケートに答えます")],
            )
        )


def tapped_round(turn: Turn, fan: Fan, item_id: str, round_id: str) -> SurveyRound | None:
    """The fan's current round when the tap answers its current question; None when stale or forged."""
    survey_round = current_round(turn.session, fan.id, turn.now)
    if survey_round is None or str(survey_round.id) != round_id:
        return None
    if survey_round.current_item_id != item_id or item_id not in turn.catalog:
        return None
    return survey_round


def current_tap(turn: Turn, item_id: str, round_id: str) -> tuple[Fan, SurveyRound] | None:
    """The fan and round a survey button belongs to, or None after answering why not."""
    fan = consenting_fan(turn)
    if fan is None:
        return None
    survey_round = tapped_round(turn, fan, item_id, round_id)
    if survey_round is None:
        reply_stale(turn, fan)
        return None
    return fan, survey_round


def on_answer(turn: Turn, postback: Postback) -> None:
    item_id, raw_value, round_id = postback.args
    tap = current_tap(turn, item_id, round_id)
    if tap is None:
        return
    fan, survey_round = tap
    item = turn.catalog[item_id]
    try:
        value = parse_value(item, raw_value)
    except AnswerError:
        # Our buttons only carry valid values, so this data was not made by us.
        turn.reply(
            messages.text("このボタンの回答は受け付けられませんでした。もう一度お答えください。"),
            question(survey_round, item),
        )
        return
    accept(turn, fan, survey_round, item, value)


def on_skip(turn: Turn, postback: Postback) -> None:
    item_id, round_id = postback.args
    tap = current_tap(turn, item_id, round_id)
    if tap is None:
        return
    fan, survey_round = tap
    accept(turn, fan, survey_round, turn.catalog[item_id], None)


def accept(turn: Turn, fan: Fan, survey_round: SurveyRound, item: Item, value: float | None) -> None:
    """Store ``value`` (None: skipped) and move on: the next question, or the round's end."""
    turn.topics.add(SURVEY_TOPIC)
    previous = current_answer(turn.session, fan.id, item.id) if survey_round.purpose == CHANGE else None
    if not advance(turn.session, survey_round, item.id, turn.now, skipped=value is None):
        reply_stale(turn, fan)
        return
    if value is not None:
        record_answer(turn.session, fan.id, item.id, value, turn.now)
    if survey_round.purpose == CHANGE:
        if value is None or previous is None:
            turn.reply(messages.text("回答は変更しませんでした。"))
        else:
            turn.reply(
                messages.text(
                    f"回答を変更しました。\n{item.text_ja}：{format_value(item, previous)} → "
                    f"{format_value(item, value)}"
                )
            )
        return
    pass_answered_items(turn.session, survey_round, turn.now)
    next_id = survey_round.current_item_id
    if next_id is not None and next_id in turn.catalog:
        lead = "ありがとうございます！\n\n" if value is not None else "スキップしました。\n\n"
        turn.reply(question(survey_round, turn.catalog[next_id], lead=lead))
        return
    finish(turn, fan)


def finish(turn: Turn, fan: Fan) -> None:
    total = answer_count(turn.session, fan.id)
    more, left = next_items(turn, fan, 1)
    if not more:
        turn.reply(
            messages.text(
                f"ご回答ありがとうございました！お答えいただける質問は以上です（{total}問にお答えいただきました）。\n"
                "答えを変えたいときは「回答変更」と送ってください。"
            )
        )
        return
    turn.reply(
        messages.text(
            f"ご回答ありがとうございました！これまでに{total}問にお答えいただきました（残り{left}問）。\n"
            "続きはいつでも、メニューの「アンケート」からどうぞ。",
            [continue_button(), stop_button("0")],
        )
    )


def on_stop(turn: Turn, postback: Postback) -> None:
    """「今日はここまで」: close the open round; the answers given so far are kept."""
    fan = consenting_fan(turn)
    if fan is None:
        return
    stop(turn, fan)


def stop(turn: Turn, fan: Fan) -> None:
    turn.topics.add(SURVEY_TOPIC)
    stopped_mid_round = open_survey_round(turn, fan) is not None
    close_open_rounds(turn.session, fan.id, turn.now)
    lead = "アンケートを中断しました。ここまでの回答は保存されています。\n" if stopped_mid_round else ""
    turn.reply(
        messages.text(
            f"{lead}ご協力ありがとうございました！続きはいつでも、メニューの「アンケート」からどうぞ。"
        )
    )


def offer_to_continue(turn: Turn) -> None:
    """After a detour mid-round (マイクーポン, 試合日程, a question to the bot), offer the round again.

    Not when the detour's reply has buttons of its own (配信再開, a deletion
    confirmation): those must stay under the newest message, where LINE shows them.
    """
    if SURVEY_TOPIC in turn.topics or not turn.replies or len(turn.replies) >= 5:
        return
    if turn.replies[-1].quick_reply is not None:
        return
    fan = turn.find_fan()
    if fan is None or not has_current_consent(fan, turn.settings.consent_version):
        return
    survey_round = open_survey_round(turn, fan)
    if survey_round is None:
        return
    turn.reply(
        messages.text(
            f"アンケートの途中です（{survey_round.position + 1}/{len(survey_round.items)}問目）。"
            "続きに答えますか？",
            [continue_button("続きに答える", "続きに答えます"), stop_button(str(survey_round.id))],
        )
    )


def on_text(turn: Turn, text: str) -> bool:
    """A typed answer to the question being asked; False when no question is waiting."""
    fan = turn.find_fan()
    if fan is None or not has_current_consent(fan, turn.settings.consent_version):
        return False
    survey_round = current_round(turn.session, fan.id, turn.now)
    item_id = survey_round.current_item_id if survey_round is not None else None
    if survey_round is None or item_id is None or item_id not in turn.catalog:
        return False
    item = turn.catalog[item_id]
    word = normalize_text(text).lower()
    if word in SKIP_WORDS:
        accept(turn, fan, survey_round, item, None)
        return True
    if word in STOP_WORDS and survey_round.purpose == SURVEY:
        stop(turn, fan)
        return True
    turn.topics.add(SURVEY_TOPIC)
    try:
        value = parse_value(item, text)
    except AnswerError as error:
        current = current_answer(turn.session, fan.id, item_id) if survey_round.purpose == CHANGE else None
        if item.is_yes_no:
            # Not an answer (「なんとなく」): keep the question and its buttons in front of the
            # fan instead of general help that would hide them.
            reason = "ボタンで「はい」か「いいえ」をお選びください（答えにくいときは「スキップ」）。"
        else:
            reason = str(error)
        turn.reply(messages.text(reason), question(survey_round, item, current=current))
        return True
    accept(turn, fan, survey_round, item, value)
    return True


def register(dispatcher: Dispatcher) -> None:
    dispatcher.on_keyword(SURVEY_KEYWORD, "アンケートに答える", "続けて答える", "続きに答える")(
        on_survey_keyword
    )
    dispatcher.on_postback("survey")(on_survey_postback)
    dispatcher.on_postback("answer")(on_answer)
    dispatcher.on_postback("skip")(on_skip)
    dispatcher.on_postback("stop")(on_stop)
    dispatcher.text_handlers.append(on_text)
    dispatcher.after_handling.append(offer_to_continue)
