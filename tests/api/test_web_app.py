"""The web app's static files: served by the API under `/app/`, no build step."""

from __future__ import annotations

import re

from httpx import AsyncClient

from api.app import WEB

IMPORT = re.compile(r'^import .* from "([^"]+)";$', re.MULTILINE)


async def test_the_web_app_is_served_without_a_build(client: AsyncClient) -> None:
    home = await client.get("/")
    page = await client.get("/app/")
    script = await client.get("/app/js/app.js")

    assert home.status_code == 307
    assert home.headers["location"] == "/app/"
    assert page.status_code == 200
    assert 'type="module"' in page.text
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]


async def test_every_file_the_app_refers_to_is_served(client: AsyncClient) -> None:
    """Module imports and the page's links resolve: nothing is fetched from elsewhere."""
    references: set[str] = {"/app/css/app.css", "/app/img/logo.svg", "/app/js/app.js"}
    for module in WEB.rglob("*.js"):
        for target in IMPORT.findall(module.read_text(encoding="utf-8")):
            assert target.startswith("."), f"{module.name} imports {target} from outside the app"
            resolved = (module.parent / target).resolve().relative_to(WEB)
            references.add(f"/app/{resolved.as_posix()}")
    page = (await client.get("/app/")).text
    assert "http://" not in page
    assert "https://" not in page

    for path in sorted(references):
        response = await client.get(path)
        assert response.status_code == 200, path
