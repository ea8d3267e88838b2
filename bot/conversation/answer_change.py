"""「回答変更」: a fan reaches any answer they gave, by category or by typing part of the question.

Quick replies hold 13 buttons, so answers are listed a page at a time per category
(the most recent ones first under 「最近の回答」); typing a word (「サウナ」) lists the
answered questions that contain it. Tapping one asks that question again in a
one-item change round (see `bot.conversation.survey`).
"""

from __future__ import annotations

import unicodedata

from linebot.v3.messaging import QuickReplyItem

from bot import messages
from bot.conversation.survey import (
    CHANGE_KEYWORD,
    SURVEY_KEYWORD,
    SURVEY_TOPIC,
    consenting_fan,
    continue_button,
    format_value,
    question,
    short_label,
)
from bot.dispatch import Dispatcher, Turn, normalize_text
from bot.postback import Postback, encode
from bot.survey.rounds import CHANGE, close_open_rounds, start_round
from data.answers import answers_by_recency, current_answer
from data.catalog import CATEGORY_LABELS, Item
from data.consent import has_current_consent
from data.models import Fan

RECENT = "recent"
PAGE_SIZE = 11  # 13 quick replies: 11 answers, 「次へ」 and 「分野を選ぶ」
MAX_FOUND = 12


def answered_items(turn: Turn, fan: Fan) -> list[tuple[Item, float]]:
    """The fan's answers, most recent first, for items still in the catalog."""
    return [
        (turn.catalog[item_id], value)
        for item_id, value in answers_by_recency(turn.session, fan.id)
        if item_id in turn.catalog
    ]


def on_change_keyword(turn: Turn, text: str) -> None:
    """Ask which answer to change: a category button, or part of the question typed."""
    fan = consenting_fan(turn)
    if fan is None:
        return
    turn.topics.add(SURVEY_TOPIC)
    answers = answered_items(turn, fan)
    if not answers:
        turn.reply(
            messages.text(
                "まだ回答がありません。「アンケート」と送ってお答えください。",
                [continue_button("アンケートに答える", "アンケートに答えます")],
            )
        )
        return
    # A typed search must not be read as an answer to a question left open.
    close_open_rounds(turn.session, fan.id, turn.now)
    turn.reply(
        messages.text(
            f"どの回答を変更しますか？（これまでの回答：{len(answers)}問）\n"
            "分野を選ぶか、質問の一部（例: サウナ）を送ってください。",
            category_buttons(answers),
        )
    )


def category_buttons(answers: list[tuple[Item, float]]) -> list[QuickReplyItem]:
    present = {item.category for item, _value in answers}
    buttons = [messages.postback_button("最近の回答", encode("changes", RECENT, "0"), "最近の回答")]
    for category, label in CATEGORY_LABELS.items():
        if category in present:
            buttons.append(messages.postback_button(label, encode("changes", category, "0"), label))
    return buttons[: messages.MAX_QUICK_REPLY_ITEMS]


def change_button(item: Item) -> QuickReplyItem:
    return messages.postback_button(short_label(item.text_ja), encode("change", item.id), item.text_ja)


def answer_lines(answers: list[tuple[Item, float]]) -> str:
    return "\n".join(f"・{item.text_ja}：{format_value(item, value)}" for item, value in answers)


def on_changes(turn: Turn, postback: Postback) -> None:
    """One page of the fan's answers in a category (or the most recent ones)."""
    category, raw_page = postback.args
    fan = consenting_fan(turn)
    if fan is None:
        return
    turn.topics.add(SURVEY_TOPIC)
    if (category != RECENT and category not in CATEGORY_LABELS) or not raw_page.isdigit():
        turn.reply(messages.text("申し訳ありません、このボタンは現在ご利用いただけません。"))
        return
    answers = answered_items(turn, fan)
    if category != RECENT:
        order = {item_id: index for index, item_id in enumerate(turn.catalog)}
        answers = sorted((a for a in answers if a[0].category == category), key=lambda a: order[a[0].id])
    page = int(raw_page)
    shown = answers[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    if not shown:
        turn.reply(messages.text("この分野の回答はありません。", category_buttons(answered_items(turn, fan))))
        return
    title = "最近の回答" if category == RECENT else CATEGORY_LABELS[category]
    pages = -(-len(answers) // PAGE_SIZE)
    heading = f"{title}（{page + 1}/{pages}ページ）" if pages > 1 else title
    buttons = [change_button(item) for item, _value in shown]
    if (page + 1) * PAGE_SIZE < len(answers):
        buttons.append(messages.postback_button("次へ", encode("changes", category, str(page + 1)), "次へ"))
    buttons.append(messages.message_button("分野を選ぶ", CHANGE_KEYWORD))
    turn.reply(
        messages.text(f"変更したい質問を選んでください。【{heading}】\n{answer_lines(shown)}", buttons)
    )


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def search_answers(turn: Turn, text: str) -> bool:
    """Typed text that is part of questions the fan answered: offer those answers to change.

    Tried only after keywords and a waiting survey question; False lets the usual
    help answer. One character is enough when it is a kanji (「猫」), otherwise two.
    """
    query = fold(normalize_text(text))
    if not query or len(query) > 30 or (len(query) < 2 and not _is_kanji(query)):
        return False
    fan = turn.find_fan()
    if fan is None or not has_current_consent(fan, turn.settings.consent_version):
        return False
    found = [(item, value) for item, value in answered_items(turn, fan) if query in fold(item.text_ja)]
    if not found:
        return False
    turn.topics.add(SURVEY_TOPIC)
    more = "\n（ほかにもあります。もう少し詳しく送ってください）" if len(found) > MAX_FOUND else ""
    found = found[:MAX_FOUND]
    turn.reply(
        messages.text(
            f"「{text.strip()[:20]}」を含む質問への回答です。変更するものを選んでください。\n"
            f"{answer_lines(found)}{more}",
            [change_button(item) for item, _value in found],
        )
    )
    return True


def change_with_words(turn: Turn, text: str) -> bool:
    """「回答変更 サウナ」 in one message: search straight away, even while a question waits."""
    folded = normalize_text(text)
    if not folded.startswith(CHANGE_KEYWORD):
        return False
    words = folded.removeprefix(CHANGE_KEYWORD).strip(" 　、,:：")
    if not words:
        return False
    fan = consenting_fan(turn)
    if fan is None:
        return True
    turn.topics.add(SURVEY_TOPIC)
    close_open_rounds(turn.session, fan.id, turn.now)
    if not search_answers(turn, words):
        turn.reply(
            messages.text(
                f"「{words[:20]}」を含む質問への回答は見つかりませんでした。分野から選ぶこともできます。",
                category_buttons(answered_items(turn, fan)) if answered_items(turn, fan) else [],
            )
        )
    return True


def _is_kanji(text: str) -> bool:
    return len(text) == 1 and "\u4e00" <= text <= "\u9fff"


def on_change(turn: Turn, postback: Postback) -> None:
    (item_id,) = postback.args
    fan = consenting_fan(turn)
    if fan is None:
        return
    turn.topics.add(SURVEY_TOPIC)
    if item_id not in turn.catalog:
        turn.reply(messages.text("申し訳ありません、このボタンは現在ご利用いただけません。"))
        return
    current = current_answer(turn.session, fan.id, item_id)
    if current is None:
        turn.reply(
            messages.text(
                "この質問にはまだお答えいただいていません。「アンケート」と送ってお答えください。",
                [messages.message_button(SURVEY_KEYWORD)],
            )
        )
        return
    survey_round = start_round(turn.session, fan.id, [item_id], turn.now, purpose=CHANGE)
    turn.reply(question(survey_round, turn.catalog[item_id], current=current))


def register(dispatcher: Dispatcher) -> None:
    dispatcher.on_keyword(CHANGE_KEYWORD, "回答を変更", "回答を変更する")(on_change_keyword)
    dispatcher.on_postback("changes")(on_changes)
    dispatcher.on_postback("change")(on_change)
    # 「回答変更 サウナ」 comes before a waiting question takes the text as an answer attempt.
    dispatcher.text_handlers.insert(0, change_with_words)
    # After the survey's typed answers: a word typed while no question waits is a search.
    dispatcher.text_handlers.append(search_answers)
