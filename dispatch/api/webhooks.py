"""Twilio's webhooks: the call's menu, key presses, call and SMS status reports, inbound texts.

No bearer token: every request must carry a valid X-Twilio-Signature over the public URL
(PUBLIC_BASE_URL + path + query) and the form, checked with the SDK's RequestValidator before
anything is read or written; an unsigned or forged request gets 403 and records nothing.
Repeated, late or out-of-order deliveries are harmless: status reports are keyed by CallSid or
MessageSid in the domain, and an answer for a callback that is no longer open is not recorded.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from twilio.request_validator import RequestValidator

from dispatch.api.context import db, setting
from dispatch.audit import callbacks
from dispatch.platform import phones
from dispatch.platform.ratelimit import RequestRateLimit, redis_storage
from dispatch.platform.redis_client import make_redis, redis_configured
from dispatch.telephony import WEBHOOK_PREFIX, conversation, signing_token, twiml, webhook_url

log = logging.getLogger(__name__)

blp = Blueprint(
    "twilio",
    __name__,
    url_prefix=WEBHOOK_PREFIX,
    description="Webhooks called by Twilio (or the built-in phone simulator); signed, no bearer token.",
)

MACHINE = ("machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax")


def _public_url() -> str:
    """The URL Twilio signed: the public base URL, this path and the query string as sent."""
    url = setting("PUBLIC_BASE_URL").rstrip("/") + request.path
    query = request.query_string.decode("utf-8", "replace")
    return url + ("?" + query if query else "")


def _signature_valid() -> bool:
    token = signing_token(current_app.config)
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    return RequestValidator(token).validate(_public_url(), request.form, signature)


def _rate_limit() -> RequestRateLimit:
    limit = current_app.extensions.get("dispatch.webhook_limit")
    if limit is None:
        redis = None
        if redis_configured(current_app.config):
            # Short timeouts: the limit fails open, so a slow Redis must not hold Twilio up.
            redis = make_redis(current_app.config, socket_connect_timeout=0.5, socket_timeout=0.5)
        limit = RequestRateLimit(
            redis_storage(redis), setting("WEBHOOK_RATE_LIMIT"), f"{setting('QUEUE_PREFIX')}-webhooks"
        )
        current_app.extensions["dispatch.webhook_limit"] = limit
    return limit


def twilio_webhook(view: Callable) -> Callable:
    """Rate-limit, check the signature (403 before anything is read), commit the view's work."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        if not _rate_limit().allow(request.remote_addr or "-"):
            abort(429, message="too many webhook requests")
        if not _signature_valid():
            log.warning("refused a webhook without a valid Twilio signature: %s", request.path)
            abort(403, message="invalid or missing X-Twilio-Signature")
        try:
            response = view(*args, **kwargs)
            db().commit()
            return response
        except BaseException:
            db().rollback()
            raise

    return wrapper


def _xml(text: str) -> Response:
    return Response(text, 200, mimetype="text/xml")


def _no_content() -> Response:
    return Response(status=204)


def _attempt_id() -> int | None:
    raw = request.args.get("attempt", "")
    return int(raw) if raw.isdigit() else None


def _link(attempt_id: int | None, sid: str) -> None:
    # Twilio may call back before the job has committed the sid it got: the signed URL names the
    # attempt, so the sid is linked here too (idempotent in the domain).
    if attempt_id is not None and sid:
        callbacks.attempt_placed(db(), attempt_id, sid)


_FORM = {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}
_TWIML = {"description": "TwiML", "content": {"text/xml": {"schema": {"type": "string"}}}}
_DOC = {
    "security": [],
    "requestBody": _FORM,
    "parameters": [
        {"in": "header", "name": "X-Twilio-Signature", "required": True, "schema": {"type": "string"}}
    ],
}
_FORBIDDEN = {"description": "Missing or invalid X-Twilio-Signature: nothing recorded"}
_LIMITED = {"description": "Too many webhook requests from this address"}


@blp.route("/voice")
class Voice(MethodView):
    @blp.doc(**_DOC, responses={"200": _TWIML, "403": _FORBIDDEN, "429": _LIMITED})
    @twilio_webhook
    def post(self):
        """The outbound call was answered: greet and ask the first question (machines: hang up)."""
        sid = request.form.get("CallSid", "")
        attempt_id = _attempt_id()
        _link(attempt_id, sid)
        answered_by = request.form.get("AnsweredBy")
        if answered_by in MACHINE:
            # A voicemail is not the customer: record it as not answered and hang up.
            callbacks.attempt_status(
                db(), sid, request.form.get("CallStatus", "in-progress"), answered_by, current_app.config
            )
            return _xml(twiml.say_and_hang_up(None))
        return _xml(
            conversation.call_answered(db(), sid, attempt_id, webhook_url(current_app.config, "gather"))
        )


@blp.route("/gather")
class Gather(MethodView):
    @blp.doc(**_DOC, responses={"200": _TWIML, "403": _FORBIDDEN, "429": _LIMITED})
    @twilio_webhook
    def post(self):
        """A key pressed (or words said) for one question: ask again, the next question, or the answer.

        Words are read by dispatch.audit.understanding; only an unambiguous answer counts. What was
        heard (transcript, Confidence, how it was read) is kept with the attempt.
        """
        tries = request.args.get("t", "0")
        twiml_text = conversation.call_input(
            db(),
            sid=request.form.get("CallSid", ""),
            attempt_id=_attempt_id(),
            question_key=request.args.get("q", ""),
            tries=int(tries) if tries.isdigit() else 1,
            happened=request.args.get("happened") or None,
            digits=request.form.get("Digits"),
            speech=request.form.get("SpeechResult"),
            confidence=request.form.get("Confidence"),
            gather_url=webhook_url(current_app.config, "gather"),
            settings=current_app.config,
        )
        return _xml(twiml_text)


@blp.route("/status")
class CallStatus(MethodView):
    @blp.doc(**_DOC, responses={"204": {"description": "Recorded (or already known)"}, "403": _FORBIDDEN})
    @twilio_webhook
    def post(self):
        """A call's progress: busy, no-answer, failed or a machine escalate; repeats are harmless."""
        sid = request.form.get("CallSid", "")
        _link(_attempt_id(), sid)
        callbacks.attempt_status(
            db(),
            sid,
            request.form.get("CallStatus", ""),
            request.form.get("AnsweredBy") or None,
            current_app.config,
        )
        return _no_content()


@blp.route("/sms-status")
class SmsStatus(MethodView):
    @blp.doc(**_DOC, responses={"204": {"description": "Recorded (or already known)"}, "403": _FORBIDDEN})
    @twilio_webhook
    def post(self):
        """A text's delivery report (sent, delivered, undelivered, failed); repeats are harmless."""
        sid = request.form.get("MessageSid", "") or request.form.get("SmsSid", "")
        _link(_attempt_id(), sid)
        status = request.form.get("MessageStatus") or request.form.get("SmsStatus") or ""
        callbacks.attempt_status(db(), sid, status, None, current_app.config)
        return _no_content()


@blp.route("/sms")
class InboundSms(MethodView):
    @blp.doc(**_DOC, responses={"200": _TWIML, "403": _FORBIDDEN, "429": _LIMITED})
    @twilio_webhook
    def post(self):
        """A text from a customer: STOP and the other opt-out words, HELP, or an answer code."""
        raw_from = request.form.get("From", "")
        phone = phones.try_normalise(raw_from, setting("DEFAULT_REGION")) or raw_from
        reply = conversation.text_received(
            db(), phone, request.form.get("Body", ""), current_app.config, request.form.get("MessageSid")
        )
        return _xml(twiml.sms_reply(reply))
