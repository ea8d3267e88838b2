"""Checks that what a person must see on the chat page is on screen, not just in the DOM."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, ViewportSize

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 860}

# Whether the element's whole box is inside the window and inside every scrolling
# ancestor's visible area (a message scrolled out of the chat is not "in view").
_FULLY_VISIBLE = """
(node) => {
  const rect = node.getBoundingClientRect();
  if (rect.width === 0 || rect.height === 0) return "has no size";
  const slack = 1;
  const outside = rect.top < -slack || rect.left < -slack
    || rect.bottom > innerHeight + slack || rect.right > innerWidth + slack;
  if (outside) {
    return `outside the window: ${JSON.stringify(rect)} in ${innerWidth}x${innerHeight}`;
  }
  for (let parent = node.parentElement; parent; parent = parent.parentElement) {
    const style = getComputedStyle(parent);
    if (!/(auto|scroll|hidden)/.test(style.overflowY + style.overflowX)) continue;
    const box = parent.getBoundingClientRect();
    if (rect.top < box.top - slack || rect.bottom > box.bottom + slack) {
      const where = `${rect.top}..${rect.bottom} not in ${box.top}..${box.bottom}`;
      return `scrolled out of ${parent.id || parent.className}: ${where}`;
    }
  }
  return "";
}
"""


def assert_fully_visible(locator: Locator, what: str, attempts: int = 60) -> None:
    """Polls briefly (the page scrolls after rendering and after images load), never scrolls itself."""
    problem = ""
    for _ in range(attempts):
        problem = locator.evaluate(_FULLY_VISIBLE)
        if problem == "":
            return
        locator.page.wait_for_timeout(50)
    raise AssertionError(f"{what} is not in view: {problem}")


def assert_newest_in_view(page: Page) -> None:
    """The newest chat row and its quick replies are on screen (checked without scrolling anything)."""
    from playwright.sync_api import expect

    newest = page.locator("#messages > .row").last
    expect(newest).to_be_in_viewport()
    assert_fully_visible(newest, "the newest message")
    buttons = page.locator("#quick-replies button")
    if buttons.count():
        # The bar scrolls sideways like LINE's; the bar and its first button must show.
        expect(buttons.first).to_be_in_viewport()
        assert_fully_visible(buttons.first, "the first quick reply")
        assert_fully_visible(page.locator("#quick-replies"), "the quick-reply bar")


def assert_composer_usable(page: Page) -> None:
    assert_fully_visible(page.locator("#composer-text"), "the message field")
    assert_fully_visible(page.get_by_role("button", name="送信", exact=True), "the send button")
