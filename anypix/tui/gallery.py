"""The session's assets as image previews: the current image (``last``) first, then every name
the session knows. Sounds and unreadable files get a text card instead of a preview."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from anypix.tui.preview import ImageKind, image_widget_class

if TYPE_CHECKING:
    from anypix.memory.history import AssetInfo

LAST = "last"


class AssetCard(Vertical):
    """One asset: its preview and its ``[name]``."""

    def __init__(self, asset: AssetInfo, image_kind: ImageKind) -> None:
        super().__init__(classes="asset-card current" if asset.name == LAST else "asset-card")
        self.asset, self.image_kind = asset, image_kind

    def compose(self) -> ComposeResult:
        asset = self.asset
        caption = "[last] current image\n" if asset.name == LAST else f"[{asset.name}]\n"
        if asset.modality == "image":
            from PIL import Image, UnidentifiedImageError

            try:
                with Image.open(asset.path) as opened:
                    picture = opened.convert("RGB")
            except (OSError, UnidentifiedImageError):
                yield Static(
                    f"(cannot read {asset.path.name})", classes="preview-missing", markup=False
                )
            else:
                yield image_widget_class(self.image_kind)(picture, classes="preview")
                caption += f"{picture.width}×{picture.height}"
        else:
            yield Static(f"({asset.modality})", classes="preview-missing", markup=False)
        yield Static(caption, classes="caption", markup=False)


class Gallery(VerticalScroll):
    """Every asset of the session; :meth:`show` replaces the cards when the assets change."""

    def __init__(self, image_kind: ImageKind = "auto", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.image_kind = image_kind
        self.shown: dict[str, str] = {}  # name -> sha256 of the cards on screen

    async def show(self, assets: dict[str, AssetInfo]) -> None:
        ordered = sorted(assets.values(), key=lambda a: (a.name != LAST, a.name))
        wanted = {asset.name: asset.sha256 for asset in ordered}
        if wanted == self.shown:
            return
        await self.remove_children()
        if not ordered:
            await self.mount(Static("no images yet: /attach NAME=PATH or ctrl+o", classes="empty"))
        else:
            await self.mount_all([AssetCard(asset, self.image_kind) for asset in ordered])
        self.shown = wanted

    def names(self) -> list[str]:
        return [card.asset.name for card in self.query(AssetCard)]
