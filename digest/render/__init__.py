"""Render: reviews → Jinja2 → MJML → the compiler child → premailer, plus the text part."""
