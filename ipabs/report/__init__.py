"""`ipabs report`: a credit committee's stress-test report in English and Chinese.

- build.py: the report's sections as data, rendered through templates/ (Jinja2, autoescaped);
- i18n.py: the one translation catalogue (gettext style, locale/) and locale formatting (Babel);
- fonts.py: the embedded CJK font (a subset of Noto Sans SC, OFL), for HTML and charts;
- pdf.py: the PDF via headless Chromium;
- check.py: `ipabs report --check`.
"""
