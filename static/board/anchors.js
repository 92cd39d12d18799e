// Progressive enhancement: hovering or tapping >>N shows post N in a popup.
// The pages work without it: every anchor is a plain link to the post.
(function () {
  "use strict";
  var popup = null;

  function close() {
    if (popup) { popup.remove(); popup = null; }
  }

  function show(link) {
    var first = String(link.dataset.anchor || "").split("-")[0];
    var post = document.getElementById(first);
    if (!post) { return false; }
    close();
    popup = document.createElement("div");
    popup.className = "anchor-popup";
    var copy = post.cloneNode(true);
    copy.removeAttribute("id");  // the original keeps its id: fragment links must stay unique
    popup.appendChild(copy);
    var box = link.getBoundingClientRect();
    popup.style.left = (window.scrollX + box.left) + "px";
    popup.style.top = (window.scrollY + box.bottom + 4) + "px";
    document.body.appendChild(popup);
    return true;
  }

  document.addEventListener("mouseover", function (e) {
    var link = e.target.closest && e.target.closest("a.anchor");
    if (link) { show(link); }
  });
  document.addEventListener("mouseout", function (e) {
    if (e.target.closest && e.target.closest("a.anchor")) { close(); }
  });
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.anchor");
    // A tap on a phone shows the popup first; a second tap follows the link.
    if (link && (!popup || popup.dataset.for !== link.dataset.anchor) && window.matchMedia("(hover: none)").matches) {
      if (show(link)) { popup.dataset.for = link.dataset.anchor; e.preventDefault(); }
    } else if (!link) {
      close();
    }
  });
})();
