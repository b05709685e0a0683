"""What every shipped prompt says, by name and language: the source ``scripts/make_prompts.py`` speaks with
espeak-ng into ``webrtc_gateway/media_files/prompts/<language>/<name>.wav``.

A text is a string in its own language, or a tuple of ``(language, text)`` pieces spoken one after the other in
their own voices (the language menu speaks English and Spanish). Changing a text here and running
``make prompts`` regenerates the files; ``tests/webrtc_gateway/test_prompts.py`` checks that every text has its
file and every name the engine, the IVR example and the dialer use has a text.

Names come from:

- the IVR (``engine.ivr.DEFAULT_PROMPTS``; ``examples/ivr.toml``; the built-in ``business-hours`` step);
- the ACD (``PlayPrompt``: ``closed``, ``unavailable``, ``max-wait``, ``overflow-full``, ``callback-confirmed``,
  ``transfer``, ``hold``; ``OfferCallback``: ``callback-offer``; ``PlayAnnouncement``: the pieces of
  ``ANNOUNCEMENT_PIECES`` and the numbers of ``NUMBERS``);
- the dialer (``CampaignConfig.abandon_message``, ``machine_message``);
- the survey (``survey-question``, ``survey-thanks``, ``survey-invalid``);
- the gateway itself (``voicemail-greeting``, ``connecting``, ``welcome``).
"""

from __future__ import annotations

Text = str | tuple[tuple[str, str], ...]

LANGUAGES: tuple[str, ...] = ("en", "es")
"""The languages shipped; the first is the default (a prompt missing in a language falls back to it)."""

PROMPTS: dict[str, dict[str, Text]] = {
    # --- IVR: the example's menus (examples/ivr.toml) ---------------------------------------------------------
    "choose-language": {
        "en": (("en", "For English, press 1."), ("es", "Para español, pulse 2.")),
        "es": (("en", "For English, press 1."), ("es", "Para español, pulse 2.")),
    },
    "main-menu-en": {"en": "For billing, press 1. For technical support, press 2. For sales, press 3. "
                           "For the status of an order, press 4. For our opening hours, press 5. "
                           "To leave a message, press 8. To hear these options again, press 9. "
                           "For an operator, press 0."},
    "main-menu-es": {"es": "Para facturación, pulse 1. Para soporte técnico, pulse 2. Para ventas, pulse 3. "
                           "Para el estado de un pedido, pulse 4. Para nuestro horario, pulse 5. "
                           "Para dejar un mensaje, pulse 8. Para repetir estas opciones, pulse 9. "
                           "Para hablar con una operadora, pulse 0."},
    "billing-menu-en": {"en": "For a payment problem, press 1. For a refund, press 2. "
                              "To go back, press star. For an operator, press 0."},
    "billing-menu-es": {"es": "Para un problema con un pago, pulse 1. Para un reembolso, pulse 2. "
                              "Para volver, pulse asterisco. Para una operadora, pulse 0."},
    "support-menu-en": {"en": "To report an outage, press 1. For any other problem, press 2. "
                              "For the priority line, press 3. To go back, press star. To hang up, press hash."},
    "support-menu-es": {"es": "Para informar de una avería, pulse 1. Para cualquier otro problema, pulse 2. "
                              "Para la línea prioritaria, pulse 3. Para volver, pulse asterisco. "
                              "Para colgar, pulse almohadilla."},
    "priority-line": {"en": "Connecting you to our priority line.",
                      "es": "Le pasamos con nuestra línea prioritaria."},
    "transferring": {"en": "Please hold while we transfer your call.",
                     "es": "Por favor, espere mientras transferimos su llamada."},
    "sorry-transferring": {"en": "Sorry, we could not do that. Let me put you through to an agent.",
                           "es": "Lo sentimos, no ha sido posible. Le pasamos con un agente."},
    "invalid-choice": {"en": "Sorry, that is not a valid choice.", "es": "Lo sentimos, esa opción no es válida."},
    # --- IVR: the defaults (engine.ivr.DEFAULT_PROMPTS) and the built-in steps --------------------------------
    "invalid": {"en": "Sorry, that is not a valid choice.", "es": "Lo sentimos, esa opción no es válida."},
    "no-input": {"en": "Sorry, we did not hear your choice.", "es": "Lo sentimos, no hemos recibido su opción."},
    "goodbye": {"en": "Thank you for calling. Goodbye.", "es": "Gracias por su llamada. Adiós."},
    "closed": {"en": "We are closed at the moment. Please call again during our opening hours.",
               "es": "En este momento estamos cerrados. Por favor, llame de nuevo en nuestro horario de atención."},
    "self-service-failed": {"en": "Sorry, that service is not available right now.",
                            "es": "Lo sentimos, ese servicio no está disponible ahora."},
    "hours-open-now": {"en": "We are open now.", "es": "Ahora estamos abiertos."},
    "hours-closed-now": {"en": "We are closed now.", "es": "Ahora estamos cerrados."},
    "voicemail-greeting": {"en": "Please leave your message after the tone. Hang up when you have finished.",
                           "es": "Por favor, deje su mensaje después de la señal. Cuelgue cuando termine."},
    # --- ACD ----------------------------------------------------------------------------------------------------
    "unavailable": {"en": "Sorry, no agent can take your call right now. Please try again later.",
                    "es": "Lo sentimos, ningún agente puede atender su llamada ahora. Inténtelo más tarde."},
    "max-wait": {"en": "Sorry, no agent could take your call in time. Please try again later.",
                 "es": "Lo sentimos, ningún agente ha podido atenderle a tiempo. Inténtelo más tarde."},
    "overflow-full": {"en": "All our agents are busy. Please try again later.",
                      "es": "Todos nuestros agentes están ocupados. Inténtelo más tarde."},
    "callback-offer": {"en": "To be called back when an agent is free, press 1. To keep waiting, stay on the line.",
                       "es": "Para que le llamemos cuando haya un agente libre, pulse 1. "
                             "Para seguir esperando, no cuelgue."},
    "callback-confirmed": {"en": "Thank you. We will call you back. Goodbye.",
                           "es": "Gracias. Le devolveremos la llamada. Adiós."},
    "transfer": {"en": "Please hold while we transfer your call.",
                 "es": "Por favor, espere mientras transferimos su llamada."},
    "hold": {"en": "Please hold.", "es": "Por favor, espere."},
    "welcome": {"en": "Thank you for calling.", "es": "Gracias por llamar."},
    "connecting": {"en": "Connecting you to an agent.", "es": "Le pasamos con un agente."},
    # --- ACD: the pieces of position and estimated-wait announcements (see webrtc_gateway.prompts) -------------
    "position-next": {"en": "You are next in line.", "es": "Usted es el siguiente."},
    "position-is": {"en": "You are number", "es": "Usted es el número"},
    "position-in-line": {"en": "in line.", "es": "en la cola."},
    "wait-is": {"en": "Your estimated wait is", "es": "Su tiempo de espera estimado es de"},
    "wait-under-a-minute": {"en": "Your estimated wait is less than a minute.",
                            "es": "Su tiempo de espera estimado es de menos de un minuto."},
    "wait-one-minute": {"en": "Your estimated wait is about one minute.",
                        "es": "Su tiempo de espera estimado es de un minuto."},
    "wait-over-an-hour": {"en": "Your estimated wait is more than an hour.",
                          "es": "Su tiempo de espera estimado es de más de una hora."},
    "minutes": {"en": "minutes.", "es": "minutos."},
    "and": {"es": "y"},
    # --- dialer ---------------------------------------------------------------------------------------------------
    "abandon-message": {"en": "Hello. We tried to reach you but no agent was free. We will not call you again "
                              "today. Goodbye.",
                        "es": "Hola. Intentamos contactar con usted pero no había ningún agente libre. "
                              "Hoy no le volveremos a llamar. Adiós."},
    "machine-message": {"en": "Hello. This is a message from our customer service. Please call us back when "
                              "convenient. Thank you.",
                        "es": "Hola. Este es un mensaje de nuestro servicio de atención al cliente. "
                              "Por favor, devuélvanos la llamada cuando le venga bien. Gracias."},
    # --- survey (engine.survey) -------------------------------------------------------------------------------
    "survey-question": {"en": "How satisfied were you with this call? Press a number from 1, not at all, "
                              "to 5, very satisfied.",
                        "es": "¿Cuál es su grado de satisfacción con esta llamada? Pulse un número del 1, "
                              "nada satisfecho, al 5, muy satisfecho."},
    "survey-thanks": {"en": "Thank you for your answer. Goodbye.", "es": "Gracias por su respuesta. Adiós."},
    "survey-invalid": {"en": "Please press a number from 1 to 5.", "es": "Por favor, pulse un número del 1 al 5."},
}

_EN_NUMBERS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
               "sixteen seventeen eighteen nineteen twenty").split()
_EN_TENS = {30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty", 90: "ninety"}
_ES_NUMBERS = ("cero uno dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince "
               "dieciséis diecisiete dieciocho diecinueve veinte veintiuno veintidós veintitrés veinticuatro "
               "veinticinco veintiséis veintisiete veintiocho veintinueve").split()
_ES_TENS = {30: "treinta", 40: "cuarenta", 50: "cincuenta", 60: "sesenta", 70: "setenta", 80: "ochenta",
            90: "noventa"}

NUMBERS: dict[str, dict[int, str]] = {
    "en": {**dict(enumerate(_EN_NUMBERS)), **_EN_TENS},
    "es": {**dict(enumerate(_ES_NUMBERS)), **_ES_TENS},
}
"""The spoken numbers shipped per language (prompt ``number-<n>``); ``webrtc_gateway.prompts.number_pieces``
composes 0..99 from them."""

for _language, _words in NUMBERS.items():
    for _n, _word in _words.items():
        PROMPTS.setdefault(f"number-{_n}", {})[_language] = _word

ANNOUNCEMENT_PIECES = ("position-next", "position-is", "position-in-line", "wait-is", "wait-under-a-minute",
                       "wait-one-minute", "wait-over-an-hour", "minutes", "and")
