"""reconnect-pbx: a personal phone number, free voicemail and free callbacks for people in precarity."""

__version__ = "0.1.0"
