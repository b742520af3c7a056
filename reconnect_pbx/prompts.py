"""The prompt catalogue: every sentence the service says, in French and in English, and its media URI.

A prompt has a kebab-case name (``mailbox-full``) and one text per language. Its audio is
``sounds/<lang>/<name>.wav`` in this repository (8 kHz mono 16-bit WAV), installed into Asterisk's
data dir as ``sounds/reconnect/<set>/<lang>/<name>.wav`` and played as
``sound:reconnect/<set>/<lang>/<name>``. Two prompt sets share the same names: ``std``, the real
voice, and ``short``, a 0.15 s tone per prompt so that end-to-end tests run fast (they assert on the
URIs the app asked for, not on the sound). ``sounds/render.py`` makes both from this catalogue and
``sounds/manifest.tsv`` says where each file came from (the TTS voice, or a tone): change a text
here, then run the render script. A prompt set of the association's own recordings (any other
folder name, made by ``reconnect-pbx prompts import``) is played the same way.

Sentences that carry a value are played as a list of media: ``count_media`` ("vous avez" + "trois"
+ "nouveaux messages"), ``digits_media`` (a phone number digit by digit), ``time_media``,
``date_media`` and ``envelope_media`` (message 1, received ..., from ...). Numbers are single
prompts from 0 to 59 (``number-0`` ... ``number-59``), plus feminine forms in French (``une``,
``vingt et une``: "une heure", "quatorze heures trente et une").

The code names prompts by string; ``require`` (and ``media``) refuse an unknown name with KeyError,
and a test checks that every name used in the code is in ``CATALOGUE``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

LANGUAGES: Final = ("fr", "en")
PROMPT_SETS: Final = ("std", "short")
DEFAULT_PROMPT_SET: Final = "std"
# Any other set is a folder of the association's own recordings: a name, never a path.
PROMPT_SET_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
# The folder under Asterisk's sounds dir that holds <set>/<lang>/<name>.wav.
SOUNDS_SUBDIR: Final = "reconnect"
# Message times are stored in UTC; people hear them in the service's local time.
LOCAL_TIMEZONE: Final = "Europe/Paris"
# Numbers said as one prompt (number-0 ... number-59): minutes, hours, days of the month, message
# counts (a mailbox holds 50). Larger ones are refused; raise this and re-render to say them.
MAX_NUMBER: Final = 59


@dataclass(frozen=True)
class Prompt:
    fr: str
    en: str

    def text(self, language: str) -> str:
        return self.fr if _language(language) == "fr" else self.en


# --- Fixed sentences ---------------------------------------------------------------------------
# English texts marked (A) were the words of Asterisk's own recordings (Allison Smith), which are no
# longer used: every prompt is now said by one voice (sounds/README.md); they may be reworded.
_SENTENCES: dict[str, Prompt] = {
    # Deposit: someone calls a personal number.
    "not-in-service": Prompt(
        "Le numéro que vous avez composé n'est pas en service. Veuillez vérifier le numéro.",
        "The number you have dialed is not in service. Please check the number and try again.",  # (A)
    ),
    "greeting-default-intro": Prompt(
        "Bonjour, vous êtes sur la messagerie vocale de",
        "Hello, you have reached the voicemail of",
    ),
    "greeting-default-leave": Prompt(
        "Veuillez laisser votre message après le bip.",
        "Please leave your message after the tone.",
    ),
    "beep": Prompt("[bip]", "[tone]"),  # (A) Asterisk's beep, in both languages
    "mailbox-full": Prompt(
        "Cette messagerie est pleine : votre message ne peut pas être enregistré. "
        "Veuillez rappeler plus tard.",
        "Sorry but the user's mail box can't accept more messages. "
        "Please try your call again later.",  # (A)
    ),
    # Said to the person after their message counts while the mailbox is full (callers are then
    # told so): capacity is a soft limit, calls already past that check are stored beyond it.
    "mailbox-full-owner": Prompt(
        "Votre messagerie est pleine : les personnes qui vous appellent ne peuvent plus laisser de "
        "message, jusqu'à ce que vous en effaciez. Vos messages sont gardés. Effacez ceux dont "
        "vous n'avez plus besoin.",
        "Your mailbox is full: people who call you cannot leave a message until you delete some. "
        "Your messages are kept. Delete the ones you no longer need.",
    ),
    "message-too-short": Prompt(
        "Votre message était trop court et n'a pas été enregistré.",
        "Your message was too short and was not recorded.",
    ),
    "message-saved": Prompt(
        "Votre message a bien été enregistré. Au revoir.",
        "Your message has been saved. Goodbye.",  # (A)
    ),
    "technical-problem": Prompt(
        "Nous sommes désolés, un problème technique est survenu. Les messages sont gardés. "
        "Rappelez dans quelques minutes.",
        "We are sorry, a technical problem has occurred. The messages are kept. "
        "Please call again in a few minutes.",
    ),
    # A dead end says for how long, that the messages are kept, and who can help.
    "service-unavailable": Prompt(
        "Le service ne marche pas en ce moment. Les messages sont gardés. Rappelez dans quelques "
        "minutes. Si cela dure, prévenez l'équipe qui vous accompagne.",
        "The service is not working at the moment. The messages are kept. Please call again in a "
        "few minutes. If it goes on, tell the team that supports you.",
    ),
    # Played by the dialplan alone (dialplan/fallback.conf) when the application is not connected:
    # it cannot know whose number was dialled, nor their language, so French then English.
    "fallback-greeting": Prompt(
        "Votre correspondant est injoignable. Laissez-lui un message après le bip.",
        "The person you are calling is unavailable. Please leave a message after the tone.",
    ),
    "goodbye": Prompt("Au revoir.", "Goodbye!"),  # (A)
    # Said when "*" cancels an entry (a number to call): the caller knows nothing was done.
    "entry-cancelled": Prompt("Annulé.", "Cancelled."),
    # "#" in the main menu: quitting is confirmed, a key pressed by mistake does not hang up.
    "confirm-quit": Prompt(
        "Pour raccrocher, tapez encore dièse. Sinon, tapez une autre touche.",
        "To hang up, press hash again. Otherwise, press any other key.",
    ),
    # Before a silence ends a call (no key through a prompt and its repeats).
    "no-input-goodbye": Prompt(
        "Nous n'avons pas entendu de touche, l'appel va se terminer. "
        "Vos messages sont gardés : rappelez quand vous voulez.",
        "We did not hear a key, so the call will end now. "
        "Your messages are kept: call again whenever you like.",
    ),
    # Login and first use.
    # Number and PIN entries end by themselves at their length: no "#" asked for (one typed anyway
    # is taken as the end of the entry, flows/menus.py).
    "enter-personal-number": Prompt("Tapez votre numéro.", "Please enter your number."),
    "enter-personal-number-end": Prompt(
        "Tapez les derniers chiffres de votre numéro personnel.",
        "Please enter the last digits of your personal number.",
    ),
    "enter-pin": Prompt(
        "Votre code secret ?",
        "Please enter your PIN.",
    ),
    "login-incorrect": Prompt(
        "Le numéro ou le code secret n'est pas bon.",
        "The number or the PIN is incorrect.",
    ),
    # Dead ends: for how long, the messages kept, who can help. A lock lasts at most
    # access.lock_max_minutes (default 60: "une heure"); keep the text in step if it changes.
    "login-locked": Prompt(
        "Trop de codes faux : l'accès à cette messagerie est bloqué pour une heure au plus. "
        "Les messages sont gardés. Rappelez plus tard, ou demandez à l'équipe qui vous accompagne.",
        "Too many wrong PINs: access to this mailbox is blocked for an hour at most. "
        "The messages are kept. Call again later, or ask the team that supports you.",
    ),
    "login-suspended": Prompt(
        "L'accès à cette messagerie est bloqué jusqu'à ce que l'équipe qui vous accompagne vous "
        "donne un nouveau code secret. Les messages sont gardés.",
        "Access to this mailbox is blocked until the team that supports you gives you a new PIN. "
        "The messages are kept.",
    ),
    # The brake lasts access.brake_window_minutes (default 10).
    "login-try-later": Prompt(
        "Le service ne peut pas vérifier les codes secrets pour le moment. Les messages sont "
        "gardés. Rappelez dans un quart d'heure.",
        "The service cannot check PINs at the moment. The messages are kept. "
        "Please call again in a quarter of an hour.",
    ),
    # At login, when wrong PINs were typed since the last one: "... est de" + number + advice.
    "failed-logins-since": Prompt(
        "Depuis votre dernière connexion, le nombre d'essais avec un code secret incorrect est de",
        "Since your last login, the number of attempts with a wrong PIN is",
    ),
    "more-than": Prompt("plus de", "more than"),
    "failed-logins-advice": Prompt(
        "Si ce n'était pas vous, parlez-en à l'équipe qui vous accompagne.",
        "If it was not you, please tell the team that supports you.",
    ),
    "pin-change-required": Prompt(
        "Le code secret qui vous a été remis doit être changé. Choisissez maintenant votre propre code secret.",
        "The PIN you were given must be changed. Please choose your own PIN now.",
    ),
    "first-login-welcome": Prompt(
        "Bienvenue sur votre messagerie vocale. Pour commencer, nous allons enregistrer votre nom.",
        "Welcome to your voicemail. First, let us record your name.",
    ),
    "record-your-name": Prompt(
        "Après le bip, dites votre prénom et votre nom, puis tapez dièse.",
        "After the tone, say your name, then press hash.",
    ),
    "name-recorded": Prompt("Votre nom a été enregistré.", "Your name has been recorded."),
    "change-pin-offer": Prompt(
        "Nous vous conseillons de changer votre code secret : pour le changer, tapez 1, sinon, tapez dièse.",
        "We advise you to change your PIN: to change it, press 1, otherwise, press hash.",
    ),
    "please-try-again": Prompt("Veuillez réessayer.", "Please try again."),  # (A)
    # Main menu and message counts: "vous avez" + number + "nouveaux messages".
    "you-have": Prompt("Vous avez", "you have"),  # (A)
    "new-message": Prompt("nouveau message", "new message"),  # (A)
    "new-messages": Prompt("nouveaux messages", "new messages"),  # (A)
    "saved-message": Prompt("message gardé", "saved message"),  # (A)
    "saved-messages": Prompt("messages gardés", "saved messages"),  # (A)
    "and": Prompt("et", "and"),  # (A)
    "no-messages": Prompt("Vous n'avez aucun message.", "you have no messages"),  # (A)
    # Menus: at most four choices, the most used first, about ten seconds (tests/unit/
    # test_menus.py); the other choices are in the help, key "*" (flows/menus.py, the key map).
    "main-menu": Prompt(
        "Pour écouter vos messages, tapez 1, pour appeler, tapez 2, pour l'aide, tapez étoile.",
        "To hear your messages, press 1, to make a call, press 2, for help, press star.",
    ),
    # Said in the *other* language, after the main menu: a person who does not understand the
    # language of the menu understands this one.
    "language-offer": Prompt("Pour le français, tapez 5.", "For English, press 5."),
    "main-help": Prompt(
        "Pour votre annonce d'accueil, tapez 3. Pour changer votre code secret, tapez 4. "
        "Pour raccrocher, tapez dièse.",
        "For your greeting, press 3. To change your PIN, press 4. To hang up, press hash.",
    ),
    # The key map, the same everywhere (flows/menus.py), said at the end of every help.
    "help": Prompt(
        "Partout, zéro vous ramène au menu principal. Étoile revient en arrière, répète ou annule. "
        "Dièse valide ou passe à la suite.",
        "Everywhere, zero takes you back to the main menu. Star goes back, repeats or cancels. "
        "Hash confirms or skips ahead.",
    ),
    "invalid-key": Prompt(
        "Ce choix n'existe pas. Réessayez.",
        "That option is invalid. Please try again.",  # (A)
    ),
    "no-input": Prompt("Vous n'avez appuyé sur aucune touche.", "You did not press any key."),
    "not-available-yet": Prompt(
        "Ce service n'est pas encore disponible.",
        "This service is not available yet.",
    ),
    "language-changed": Prompt("Vous avez choisi le français.", "You have chosen English."),
    # Listening to messages. Envelope: "message" 1 "reçu" mardi 24 novembre "à" 14 h 05 "du numéro" ...
    "message": Prompt("Message", "message"),  # (A)
    "first-message": Prompt("Premier message.", "first message"),  # (A)
    "received": Prompt("reçu", "received"),  # (A)
    "at": Prompt("à", "at"),  # (A)
    "from": Prompt("du", "from"),  # (A)
    "unknown-caller": Prompt("d'un numéro masqué", "from an unknown caller"),  # (A)
    "today": Prompt("aujourd'hui", "today"),  # (A)
    "yesterday": Prompt("hier", "yesterday"),  # (A)
    # The message menu, fitted to the message: "effacer" or "récupérer", "suivant" or "dernier".
    "message-menu": Prompt(
        "Pour réécouter, tapez 1, pour rappeler, tapez 2, pour effacer, tapez 3.",
        "To replay, press 1, to call back, press 2, to delete, press 3.",
    ),
    "message-menu-deleted": Prompt(
        "Pour réécouter, tapez 1, pour rappeler, tapez 2, pour récupérer, tapez 3.",
        "To replay, press 1, to call back, press 2, to get it back, press 3.",
    ),
    "message-menu-next": Prompt("Pour le suivant, tapez dièse.", "For the next one, press hash."),
    # After the last message "#" (next) and "0" lead to the main menu; the help says so.
    "message-menu-last": Prompt("C'était le dernier message.", "That was the last message."),
    "message-help-previous": Prompt(
        "Pour le message précédent, tapez 4.",
        "For the previous message, press 4.",
    ),
    "message-help": Prompt(
        "Pour entendre la date et le numéro, tapez 5. Pour garder ce message, tapez 9. "
        "Pour revenir au menu principal, tapez 0. "
        "Pendant l'écoute, étoile recule et dièse avance de cinq secondes.",
        "To hear the date and the number, press 5. To keep this message, press 9. "
        "To go back to the main menu, press 0. "
        "While it plays, star goes back and hash goes forward five seconds.",
    ),
    "message-deleted": Prompt("Message effacé.", "Message deleted."),  # (A)
    "message-restored": Prompt("Message récupéré.", "Message undeleted."),  # (A)
    "message-saved-folder": Prompt("Message gardé.", "message saved"),  # (A)
    "no-previous-message": Prompt("Il n'y a pas de message précédent.", "There is no previous message."),
    "no-more-messages": Prompt("Il n'y a pas d'autre message.", "No more messages."),  # (A)
    # Greetings.
    "greetings-menu": Prompt(
        "Pour enregistrer une annonce d'accueil, tapez 1, pour l'écouter, tapez 2, pour l'effacer, tapez 3.",
        "To record a greeting, press 1, to hear it, press 2, to delete it, press 3.",
    ),
    "greetings-help": Prompt(
        "Sans annonce d'accueil, les personnes qui vous appellent entendent l'annonce standard, "
        "avec votre nom. Pour enregistrer à nouveau votre nom, tapez 4. Pour revenir au menu "
        "principal, tapez 0.",
        "Without a greeting of your own, people who call you hear the standard greeting, with "
        "your name. To record your name again, press 4. To go back to the main menu, press 0.",
    ),
    "recording-failed": Prompt(
        "L'enregistrement n'a pas marché. Réessayez.",
        "The recording did not work. Please try again.",
    ),
    "record-after-tone": Prompt(
        "Parlez après le bip. Quand vous avez fini, tapez dièse.",
        "Speak after the tone. When you have finished, press hash.",
    ),
    "greeting-recorded": Prompt("Votre annonce a été enregistrée.", "Your greeting has been recorded."),
    "greeting-deleted": Prompt(
        "Votre annonce a été effacée. Les personnes qui vous appellent entendront l'annonce standard.",
        "Your greeting has been deleted. Callers will hear the standard greeting.",
    ),
    "no-personal-greeting": Prompt(
        "Vous n'avez pas d'annonce personnelle.",
        "You have no personal greeting.",
    ),
    # PIN change. A refused PIN: "pin-weak-" + the reason code of pin_policy.WeakPin.
    "enter-new-pin": Prompt(
        "Tapez votre nouveau code secret, puis dièse.",
        "Please enter your new PIN, followed by the hash key.",
    ),
    "reenter-new-pin": Prompt(
        "Tapez encore une fois votre nouveau code secret, puis dièse.",
        "Please enter your new PIN again, followed by the hash key.",
    ),
    "pins-dont-match": Prompt(
        "Les deux codes ne sont pas identiques.",
        "The two PINs do not match.",
    ),
    "pin-changed": Prompt("Votre code secret a été changé.", "Your PIN has been changed."),
    "pin-weak-length": Prompt(
        "Ce code n'a pas le bon nombre de chiffres.",
        "This PIN does not have the right number of digits.",
    ),
    # "pin-must-have" + number + "pin-digits": "votre code secret doit comporter six chiffres".
    "pin-must-have": Prompt("Votre code secret doit comporter", "Your PIN must have"),
    "pin-digits": Prompt("chiffres.", "digits."),
    "pin-weak-repeated": Prompt(
        "Ce code est trop facile à deviner : il répète le même chiffre.",
        "This PIN is too easy to guess: it repeats the same digit.",
    ),
    "pin-weak-sequence": Prompt(
        "Ce code est trop facile à deviner : ses chiffres se suivent.",
        "This PIN is too easy to guess: its digits follow each other.",
    ),
    "pin-weak-pairs": Prompt(
        "Ce code est trop facile à deviner : il répète le même groupe de chiffres.",
        "This PIN is too easy to guess: it repeats the same group of digits.",
    ),
    "pin-weak-year": Prompt(
        "Ce code est trop facile à deviner : il ressemble à une année.",
        "This PIN is too easy to guess: it looks like a year.",
    ),
    "pin-weak-date": Prompt(
        "Ce code est trop facile à deviner : il ressemble à une date.",
        "This PIN is too easy to guess: it looks like a date.",
    ),
    "pin-weak-own-number": Prompt(
        "Ce code est trop facile à deviner : il reprend les chiffres de votre numéro de téléphone.",
        "This PIN is too easy to guess: it uses the digits of your phone number.",
    ),
    # A reason code without a prompt of its own ("not-digits", "error", or a new rule).
    "pin-weak-generic": Prompt(
        "Ce code ne peut pas être utilisé. Veuillez en choisir un autre.",
        "This PIN cannot be used. Please choose another one.",
    ),
    "pin-weak-common": Prompt(
        "Ce code est trop facile à deviner : il est très souvent utilisé.",
        "This PIN is too easy to guess: it is very often used.",
    ),
    # Callback: a logged-in person calls out through the service.
    "enter-number-to-call": Prompt(
        "Tapez le numéro à appeler, puis dièse. Pour annuler, tapez étoile.",
        "please enter the number you wish to call",  # (A)
    ),
    "calling": Prompt(
        "Ne quittez pas, nous appelons ce numéro.",
        "please wait while i connect your call",  # (A)
    ),
    "destination-refused-premium": Prompt(
        "Les numéros surtaxés ne peuvent pas être appelés avec ce service.",
        "Premium-rate numbers cannot be called with this service.",
    ),
    "destination-refused-short": Prompt(
        "Les numéros courts ne peuvent pas être appelés avec ce service.",
        "Short numbers cannot be called with this service.",
    ),
    "destination-refused-international": Prompt(
        "Les numéros internationaux ne peuvent pas être appelés avec ce service.",
        "International numbers cannot be called with this service.",
    ),
    "destination-refused-mobile": Prompt(
        "Avec ce service, vous pouvez appeler un numéro fixe, ou rappeler une personne qui vous a "
        "laissé un message, mais pas taper un numéro de portable.",
        "With this service, you can call a landline, or call back a person who left you a message, "
        "but not dial a mobile number.",
    ),
    "destination-refused-overseas": Prompt(
        "Les numéros d'outre-mer ne peuvent pas être appelés avec ce service.",
        "Overseas numbers cannot be called with this service.",
    ),
    "destination-refused-special": Prompt(
        "Les numéros spéciaux commençant par zéro huit ne peuvent pas être appelés avec ce service, "
        "sauf les numéros gratuits.",
        "Special numbers starting with zero eight cannot be called with this service, "
        "except free numbers.",
    ),
    "destination-refused-withheld": Prompt(
        "Cette personne a masqué son numéro : elle ne peut pas être rappelée.",
        "This caller withheld their number, so they cannot be called back.",
    ),
    "destination-refused-invalid": Prompt(
        "Ce numéro n'existe pas. Vérifiez-le et réessayez.",
        "This number is not valid. Please check the number.",
    ),
    "emergency-dial-directly": Prompt(
        "Pour joindre les services d'urgence, raccrochez et composez directement le numéro "
        "depuis votre téléphone. L'appel est gratuit.",
        "To reach the emergency services, hang up and dial the number directly from your phone. "
        "The call is free.",
    ),
    "outbound-suspended": Prompt(
        "Les appels sont bloqués sur votre compte, jusqu'à ce que l'équipe qui vous accompagne "
        "les débloque. Vos messages sont gardés : vous pouvez toujours les écouter.",
        "Calls are blocked on your account until the team that supports you unblocks them. "
        "Your messages are kept: you can still listen to them.",
    ),
    "quota-exhausted": Prompt(
        "Vous avez utilisé tout votre temps d'appel disponible pour le moment.",
        "You have used all your available call time for now.",
    ),
    "too-many-calls": Prompt(
        "Vous avez passé trop d'appels en peu de temps. Réessayez plus tard.",
        "You have made too many calls in a short time. Please try again later.",
    ),
    "call-already-in-progress": Prompt(
        "Vous avez déjà un appel en cours. Un seul appel à la fois est possible.",
        "You already have a call in progress. Only one call at a time is possible.",
    ),
    "all-lines-busy": Prompt(
        "Toutes les lignes sont occupées. Réessayez dans quelques minutes.",
        "All lines are busy. Please try again in a few minutes.",
    ),
    "calls-unavailable-today": Prompt(
        "Les appels ne sont plus possibles aujourd'hui. Réessayez demain.",
        "Calls are no longer available today. Please try again tomorrow.",
    ),
    "call-limit-warning": Prompt("Il vous reste une minute.", "You have one minute left."),
    "call-busy": Prompt(
        "La ligne est occupée. Réessayez plus tard.",
        "The line is busy. Please try again later.",
    ),
    "call-no-answer": Prompt("La personne ne répond pas.", "The number is not answering."),  # (A)
    "call-failed": Prompt("L'appel n'a pas pu aboutir.", "The call could not be connected."),
    "call-ended": Prompt("L'appel est terminé.", "The call has ended."),
    "call-time-up": Prompt("Votre temps d'appel est écoulé.", "Your call time is up."),
    # Follow: a call to the personal number rings the person's current phone first.
    "follow-call-from": Prompt(
        "Appel pour votre numéro personnel, de la part du",
        "A call for your personal number, from",
    ),
    "follow-caller-withheld": Prompt(
        "Appel pour votre numéro personnel, d'un numéro masqué.",
        "A call for your personal number, from a withheld number.",
    ),
    "follow-press-1": Prompt("Tapez 1 pour prendre l'appel.", "Press 1 to take the call."),
    "phone-confirm": Prompt(
        "Ici votre service de numéro personnel. Tapez 1 pour confirmer que ce téléphone est le vôtre.",
        "This is your personal number service. Press 1 to confirm that this phone is yours.",
    ),
    "alert-new-message": Prompt(
        "Vous avez un nouveau message sur votre numéro personnel. Tapez 1 pour l'écouter.",
        "You have a new message on your personal number. Press 1 to listen to it.",
    ),
    # The phone menu (main menu, key 6: flows/phone_menu.py).
    "help-phone": Prompt(
        "Pour le téléphone que vous avez en ce moment, tapez 6 : "
        "les appels vers votre numéro personnel y sonneront d'abord.",
        "For the phone you have now, press 6: calls to your personal number "
        "will ring it first.",
    ),
    "phone-none": Prompt("Vous n'avez pas de téléphone enregistré.", "You have no phone on record."),
    "phone-is": Prompt("Votre téléphone actuel est le", "Your current phone is"),
    "phone-not-confirmed": Prompt(
        "Il n'est pas encore confirmé : il ne sonne pas.", "It is not confirmed yet, so it does not ring."
    ),
    "follow-is-on": Prompt(
        "Les appels vers votre numéro personnel y sonnent d'abord.",
        "Calls to your personal number ring it first.",
    ),
    "follow-is-off": Prompt(
        "Les appels vers votre numéro personnel vont directement à votre messagerie.",
        "Calls to your personal number go straight to your voicemail.",
    ),
    "phone-menu": Prompt(
        "Pour un nouveau téléphone, tapez 1, pour qu'il sonne ou non, tapez 2, pour l'effacer, tapez 3.",
        "For a new phone, press 1, to have it ring or not, press 2, to remove it, press 3.",
    ),
    "phone-help": Prompt(
        "Pour être appelé ou non à chaque nouveau message, tapez 4.",
        "To get a call or not for each new message, press 4.",
    ),
    "alerts-are-on": Prompt(
        "Chaque nouveau message vous sera signalé par un appel sur ce téléphone.",
        "Each new message will be announced by a call to this phone.",
    ),
    "alerts-are-off": Prompt(
        "Les nouveaux messages ne vous seront plus signalés par un appel.",
        "New messages will no longer be announced by a call.",
    ),
    "enter-phone-number": Prompt(
        "Veuillez composer le numéro de votre téléphone, un portable ou un fixe en France.",
        "Please enter the number of your phone, a mobile or a landline in France.",
    ),
    "phone-will-be-called": Prompt(
        "Nous allons appeler ce téléphone : décrochez et tapez 1 pour confirmer qu'il est le vôtre.",
        "We will call this phone: answer and press 1 to confirm that it is yours.",
    ),
    "phone-removed": Prompt(
        "Votre téléphone est effacé : les appels vont à votre messagerie.",
        "Your phone is removed: calls go to your voicemail.",
    ),
    "phone-confirmed": Prompt(
        "Merci. Ce téléphone est confirmé : les appels vers votre numéro personnel y sonneront.",
        "Thank you. This phone is confirmed: calls to your personal number will ring it.",
    ),
    # Units for durations and times. English times use the 12-hour clock, as Asterisk says them:
    # "two oh five p m", "two o'clock p m"; French says "quatorze heures cinq".
    "hour": Prompt("heure", "hour"),
    "hours": Prompt("heures", "hours"),  # (A)
    "minute": Prompt("minute", "minute"),  # (A)
    "minutes": Prompt("minutes", "minutes"),  # (A)
    "time-oh": Prompt("zéro", "oh"),  # (A)
    "time-oclock": Prompt("heures", "o'clock"),  # (A)
    "time-am": Prompt("du matin", "a m"),  # (A)
    "time-pm": Prompt("de l'après-midi", "p m"),  # (A)
}

_WEEKDAYS: Final = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAYS_FR: Final = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MONTHS: Final = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_MONTHS_FR: Final = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)  # fmt: skip

_FR_UNITS: Final = (
    "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix",
    "onze", "douze", "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf",
)  # fmt: skip
_FR_TENS: Final = {20: "vingt", 30: "trente", 40: "quarante", 50: "cinquante", 60: "soixante"}
_EN_UNITS: Final = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
    "nineteen",
)  # fmt: skip
_EN_TENS: Final = {
    20: "twenty", 30: "thirty", 40: "forty", 50: "fifty",
    60: "sixty", 70: "seventy", 80: "eighty", 90: "ninety",
}  # fmt: skip
_EN_ORDINAL_UNITS: Final = (
    "", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
    "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
    "seventeenth", "eighteenth", "nineteenth",
)  # fmt: skip
# Numbers whose French feminine differs ("une heure", "vingt et une heures", "14 h 31").
FEMININE_NUMBERS: Final = (1, 21, 31, 41, 51)


def french_number(n: int, *, feminine: bool = False) -> str:
    """0-99 in words, traditional spelling: vingt et un, soixante et onze, quatre-vingts."""
    if not 0 <= n <= 99:
        raise ValueError(f"{n} is outside 0-99")
    if n < 20:
        words = _FR_UNITS[n]
    elif n < 70:
        tens, unit = divmod(n, 10)
        words = _FR_TENS[tens * 10]
        if unit == 1:
            words += " et un"
        elif unit:
            words += "-" + _FR_UNITS[unit]
    elif n < 80:
        words = "soixante et onze" if n == 71 else "soixante-" + _FR_UNITS[n - 60]
    elif n == 80:
        words = "quatre-vingts"
    else:
        words = "quatre-vingt-" + _FR_UNITS[n - 80]
    if feminine and words.endswith("un"):
        words += "e"
    return words


def english_number(n: int) -> str:
    if not 0 <= n <= 99:
        raise ValueError(f"{n} is outside 0-99")
    if n < 20:
        return _EN_UNITS[n]
    tens, unit = divmod(n, 10)
    return _EN_TENS[tens * 10] + ("-" + _EN_UNITS[unit] if unit else "")


def french_ordinal(n: int) -> str:
    """1-31: premier, deuxième, ..., vingt et unième, trente et unième."""
    if n == 1:
        return "premier"
    words = french_number(n)
    if words.endswith("un"):
        return words + "ième"
    if words.endswith("cinq"):
        return words + "uième"
    if words.endswith("neuf"):
        return words[:-1] + "vième"
    if words.endswith("e"):
        words = words[:-1]
    return words + "ième"


def english_ordinal(n: int) -> str:
    if n < 20:
        return _EN_ORDINAL_UNITS[n]
    tens, unit = divmod(n, 10)
    if unit:
        return _EN_TENS[tens * 10] + "-" + _EN_ORDINAL_UNITS[unit]
    return _EN_TENS[tens * 10][:-1] + "ieth"


def _generated() -> dict[str, Prompt]:
    prompts: dict[str, Prompt] = {}
    for d in range(10):
        prompts[f"digit-{d}"] = Prompt(_FR_UNITS[d], _EN_UNITS[d])
    for n in range(MAX_NUMBER + 1):
        prompts[f"number-{n}"] = Prompt(french_number(n), english_number(n))
    for n in FEMININE_NUMBERS:
        prompts[f"number-{n}-f"] = Prompt(french_number(n, feminine=True), english_number(n))
    for n in range(1, 32):
        prompts[f"ordinal-{n}"] = Prompt(french_ordinal(n), english_ordinal(n))
    for en, fr in zip(_WEEKDAYS, _WEEKDAYS_FR, strict=True):
        prompts[f"day-{en}"] = Prompt(fr, en.capitalize())
    for en, fr in zip(_MONTHS, _MONTHS_FR, strict=True):
        prompts[f"month-{en}"] = Prompt(fr, en.capitalize())
    return prompts


def _build() -> Mapping[str, Prompt]:
    generated = _generated()
    clash = set(generated) & set(_SENTENCES)
    if clash:
        raise RuntimeError(f"prompt names defined twice: {sorted(clash)}")
    return MappingProxyType({**_SENTENCES, **generated})


#: Every prompt, by name. Read-only: add a prompt above, then run sounds/render.py.
CATALOGUE: Final[Mapping[str, Prompt]] = _build()


# --- Names and media URIs ----------------------------------------------------------------------


def require(name: str) -> str:
    """``name`` itself if it is a catalogue prompt; KeyError otherwise."""
    if name not in CATALOGUE:
        raise KeyError(f"no prompt named {name!r} in the catalogue")
    return name


def text(name: str, language: str) -> str:
    """What prompt ``name`` says in ``language``."""
    return CATALOGUE[require(name)].text(language)


def media(name: str, language: str, prompt_set: str = DEFAULT_PROMPT_SET) -> str:
    """The Asterisk media URI of one prompt: ``sound:reconnect/std/fr/mailbox-full``."""
    return f"sound:{SOUNDS_SUBDIR}/{_prompt_set(prompt_set)}/{_language(language)}/{require(name)}"


def media_list(names: Iterable[str], language: str, prompt_set: str = DEFAULT_PROMPT_SET) -> list[str]:
    """The media URIs of several prompts, to play one after the other."""
    return [media(name, language, prompt_set) for name in names]


def digits_media(number: str, language: str, prompt_set: str = DEFAULT_PROMPT_SET) -> list[str]:
    """A phone number said digit by digit, as a caller in France would dial it.

    ``+33142685300`` is said "0 1 4 2 6 8 5 3 0 0"; another country's ``+44...`` is said
    "0 0 4 4 ...". Spaces and punctuation are ignored.
    """
    return media_list((f"digit-{d}" for d in dialled_digits(number)), language, prompt_set)


def dialled_digits(number: str) -> str:
    """The digits a caller in France dials for ``number`` (E.164 or national form)."""
    written = (number or "").strip()
    digits = "".join(c for c in written if c in "0123456789")
    if not digits or "+" in written[1:]:
        raise ValueError(f"{number!r} is not a phone number that can be said")
    if written.startswith("+"):
        return "0" + digits[2:] if digits.startswith("33") else "00" + digits
    return digits


def number_media(
    n: int, language: str, prompt_set: str = DEFAULT_PROMPT_SET, *, feminine: bool = False
) -> list[str]:
    """A number from 0 to MAX_NUMBER (``feminine``: "une", "vingt et une" in French)."""
    if not 0 <= n <= MAX_NUMBER:
        raise ValueError(f"cannot say {n}: numbers are said from 0 to {MAX_NUMBER}")
    name = f"number-{n}-f" if feminine and n in FEMININE_NUMBERS else f"number-{n}"
    return [media(name, language, prompt_set)]


def count_media(
    n: int, singular: str, plural: str, language: str, prompt_set: str = DEFAULT_PROMPT_SET
) -> list[str]:
    """A number and a noun that agrees with it: 3 "new-messages", 1 "new-message".

    French takes the singular for 0 and 1, English for 1 only.
    """
    one = n <= 1 if _language(language) == "fr" else n == 1
    return [*number_media(n, language, prompt_set), media(singular if one else plural, language, prompt_set)]


def time_media(hour: int, minute: int, language: str, prompt_set: str = DEFAULT_PROMPT_SET) -> list[str]:
    """A clock time. French: "quatorze heures cinq", "une heure", "zéro heure trente et une".
    English (12-hour clock, as Asterisk says it): "two oh five p m", "two o'clock p m"."""
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"{hour}:{minute} is not a time of day")
    if _language(language) == "fr":
        names = [f"number-{hour}-f" if hour in FEMININE_NUMBERS else f"number-{hour}"]
        names.append("hour" if hour <= 1 else "hours")
        if minute:
            names.append(f"number-{minute}-f" if minute in FEMININE_NUMBERS else f"number-{minute}")
    else:
        names = [f"number-{hour % 12 or 12}"]
        if minute == 0:
            names.append("time-oclock")
        elif minute < 10:
            names += ["time-oh", f"number-{minute}"]
        else:
            names.append(f"number-{minute}")
        names.append("time-am" if hour < 12 else "time-pm")
    return media_list(names, language, prompt_set)


def date_media(day: dt.date, language: str, prompt_set: str = DEFAULT_PROMPT_SET) -> list[str]:
    """A date with its weekday. French: "mardi vingt-quatre novembre", "mardi premier décembre".
    English: "Tuesday November twenty-fourth"."""
    weekday = f"day-{_WEEKDAYS[day.weekday()]}"
    month = f"month-{_MONTHS[day.month - 1]}"
    if _language(language) == "fr":
        names = [weekday, "ordinal-1" if day.day == 1 else f"number-{day.day}", month]
    else:
        names = [weekday, month, f"ordinal-{day.day}"]
    return media_list(names, language, prompt_set)


def envelope_media(
    index: int,
    received_at: dt.datetime,
    caller: str | None,
    language: str,
    prompt_set: str = DEFAULT_PROMPT_SET,
    *,
    now: dt.datetime | None = None,
    timezone: str = LOCAL_TIMEZONE,
) -> list[str]:
    """What is said before a message: "message 1, reçu mardi 24 novembre à 14 h 05, du numéro
    0 1 4 2 6 8 5 3 0 0" (or "d'un numéro masqué" when ``caller`` is None).

    ``received_at`` and ``now`` are aware datetimes (naive ones are taken as already local); they
    are said in ``timezone``. A message of today or yesterday says "aujourd'hui"/"hier" instead of
    the date.
    """
    zone = ZoneInfo(timezone)
    local = _local(received_at, zone)
    today = _local(now or dt.datetime.now(dt.UTC), zone).date()
    result = [media("message", language, prompt_set), *number_media(index, language, prompt_set)]
    result.append(media("received", language, prompt_set))
    if local.date() == today:
        result.append(media("today", language, prompt_set))
    elif local.date() == today - dt.timedelta(days=1):
        result.append(media("yesterday", language, prompt_set))
    else:
        result += date_media(local.date(), language, prompt_set)
    return result + _time_and_caller_media(local, caller, language, prompt_set)


def _time_and_caller_media(local: dt.datetime, caller: str | None, language: str, prompt_set: str) -> list[str]:
    """The end of both envelopes: "à 14 h 05, du 0 1 4 2 ..." (or "d'un numéro masqué")."""
    said = [media("at", language, prompt_set), *time_media(local.hour, local.minute, language, prompt_set)]
    if caller:
        return [*said, media("from", language, prompt_set), *digits_media(caller, language, prompt_set)]
    return [*said, media("unknown-caller", language, prompt_set)]


def short_envelope_media(
    received_at: dt.datetime,
    caller: str | None,
    language: str,
    prompt_set: str = DEFAULT_PROMPT_SET,
    *,
    now: dt.datetime | None = None,
    timezone: str = LOCAL_TIMEZONE,
) -> list[str]:
    """What is said before a message played straight after the login: "reçu mardi à 14 h 30, du
    0 6 1 2 ..." — no message number, the weekday alone within the last week ("aujourd'hui",
    "hier" for the last two days), the full date only for older messages. ``envelope_media`` is
    the full form (key 5)."""
    zone = ZoneInfo(timezone)
    local = _local(received_at, zone)
    today = _local(now or dt.datetime.now(dt.UTC), zone).date()
    result = [media("received", language, prompt_set)]
    age = (today - local.date()).days
    if age == 0:
        result.append(media("today", language, prompt_set))
    elif age == 1:
        result.append(media("yesterday", language, prompt_set))
    elif 1 < age < 7:
        result.append(media(f"day-{_WEEKDAYS[local.weekday()]}", language, prompt_set))
    else:
        result += date_media(local.date(), language, prompt_set)
    return result + _time_and_caller_media(local, caller, language, prompt_set)


def _local(moment: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    return moment.astimezone(zone) if moment.tzinfo is not None else moment


def _language(language: str) -> str:
    # Accepts models.Language too (a str enum) without importing the models here.
    value = getattr(language, "value", language)
    if value not in LANGUAGES:
        raise ValueError(f"no prompts in language {language!r}; languages are {', '.join(LANGUAGES)}")
    return value


def _prompt_set(prompt_set: str) -> str:
    # std and short, or a set of the association's own voice (PROMPT_SET_NAME).
    if not PROMPT_SET_NAME.fullmatch(prompt_set):
        raise ValueError(f"no prompt set {prompt_set!r}: a set is a folder name, e.g. {', '.join(PROMPT_SETS)}")
    return prompt_set
