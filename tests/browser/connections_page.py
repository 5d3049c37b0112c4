"""Airflow 3's Admin > Connections page, as a person uses it: the Add Connection dialog,
its fields, and the Test button of each connection in the list."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

TEST_ENDPOINT = "**/api/v2/connections/test"
# Airflow 3.3.1 and 3.3.2 refuse the Test button of any saved connection without a port:
# the UI sends ``port: 0`` for it and the API takes that for a different destination, so
# it will not reuse the stored secret (apache/airflow#73298, fixed after 3.3.2).
PORTLESS_TEST_REFUSAL = "The host or port to test differs from the stored connection"


class ConnectionsPage:
    def __init__(self, page: Any, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.portless_test_refused = False

    def open(self) -> None:
        self.page.goto(f"{self.base_url}/connections")
        self.page.get_by_role("button", name="Add Connection").wait_for()

    # -- the Add Connection dialog -------------------------------------------------------

    @property
    def dialog(self) -> Any:
        return self.page.get_by_role("dialog")

    def start_adding(self, conn_id: str, type_name: str) -> None:
        self.page.get_by_role("button", name="Add Connection").click()
        self.dialog.get_by_label("Connection ID").fill(conn_id)
        self.dialog.get_by_role("combobox").first.fill(type_name)
        self.page.get_by_role("option", name=type_name, exact=True).click()

    def expand(self, section: str) -> None:
        self.dialog.get_by_role("button", name=section, exact=True).click()

    def extra_field(self, label: str) -> Any:
        """The row of an extra field: its label, input and description."""
        return self.dialog.get_by_role("group").filter(has=self.page.get_by_text(label, exact=True))

    def extra_input(self, name: str) -> Any:
        # Airflow renders extra fields with inputs that their labels do not point to.
        return self.dialog.locator(f"input[name=element_{name}]")

    def choices(self, label: str) -> list[str]:
        field = self.extra_field(label)
        field.get_by_role("combobox").click()
        options = self.page.get_by_role("option").all_inner_texts()
        # A click elsewhere closes the list unchanged (Escape would close the whole dialog).
        field.locator("[data-part=helper-text]").click()
        self.page.get_by_role("option").first.wait_for(state="detached")
        return options

    def choose(self, label: str, value: str) -> None:
        self.extra_field(label).get_by_role("combobox").click()
        self.page.get_by_role("option", name=value, exact=True).click()

    def save(self) -> None:
        self.dialog.get_by_role("button", name="Save").click()
        self.toast("Create Connection Request Submitted").wait_for()

    def screenshot_dialog(self, path: Path) -> None:
        """The whole dialog, however tall: the viewport grows to fit it first."""
        viewport = self.page.viewport_size
        height = self.page.evaluate("document.querySelector('[role=dialog]').scrollHeight")
        self.page.set_viewport_size({"width": viewport["width"], "height": max(height + 200, 900)})
        self.dialog.screenshot(path=str(path))
        self.page.set_viewport_size(viewport)

    # -- the list ------------------------------------------------------------------------

    def row(self, conn_id: str) -> Any:
        return self.page.get_by_role("row").filter(has_text=conn_id)

    def press_test(self, conn_id: str) -> Any:
        """Press the connection's Test button; returns the API's reply to it.

        Where Airflow refuses a portless connection (see ``PORTLESS_TEST_REFUSAL``), the
        refusal is noted and the button is pressed again with the request carrying no port,
        as Airflow's fix has it treated, so that the provider's side is still tested.
        """
        reply = self._press_test(conn_id)
        if reply.status == 400 and PORTLESS_TEST_REFUSAL in reply.text():
            self.portless_test_refused = True
            warnings.warn(
                "this Airflow refuses the Test button of a connection without a port "
                "(apache/airflow#73298); pressed again without port 0",
                stacklevel=2,
            )
            refusal = self.toast("Test Connection Failed").filter(has_text="Bad Request")
            refusal.wait_for()
            refusal.wait_for(state="detached")  # so that only the real answer is seen
            self.page.route(TEST_ENDPOINT, _without_port_zero)
            reply = self._press_test(conn_id)
        return reply

    def _press_test(self, conn_id: str) -> Any:
        with self.page.expect_response(TEST_ENDPOINT) as reply:
            self.row(conn_id).get_by_role("button", name="Test Connection").click()
        return reply.value

    def toast(self, title: str) -> Any:
        """A notification, found by its title; its text includes the description."""
        return self.page.locator("[data-scope=toast][data-part=root]").filter(has_text=title)

    def screenshot_with_toast(self, toast: Any, path: Path) -> None:
        """The page once ``toast`` has finished sliding in."""
        toast.wait_for()
        toast.evaluate("toast => Promise.all(toast.getAnimations().map(a => a.finished))")
        self.page.screenshot(path=str(path))


def _without_port_zero(route: Any) -> None:
    body = route.request.post_data_json
    if body.get("port") == 0:
        del body["port"]
    route.continue_(post_data=json.dumps(body))
