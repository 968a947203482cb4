package widget

import (
	"errors"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

type ratingRequest struct {
	Score   int    `json:"score"`
	Comment string `json:"comment"`
}

type ratingView struct {
	Score   int    `json:"score"`
	Comment string `json:"comment"`
}

// rating answers the visitor's rating of the conversation: {"rating":
// {"score","comment"}} or {"rating": null} when not rated yet.
func (h *Handler) rating(c *gin.Context) {
	org, conv := orgOf(c), conversationOf(c)
	r, err := h.Store.ConversationRating(c, org.ID, conv.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c.JSON(http.StatusOK, gin.H{"rating": nil})
	case err != nil:
		apiInternal(c, err)
	default:
		c.JSON(http.StatusOK, gin.H{"rating": ratingView{Score: r.Score, Comment: r.Comment}})
	}
}

// rate stores the visitor's rating of a resolved conversation, once:
// 422 for a score outside 1–5 or a comment too long, 409 when the
// conversation is not resolved or already rated.
func (h *Handler) rate(c *gin.Context) {
	org, conv := orgOf(c), conversationOf(c)
	if !h.allow(c, h.Limiters.Messages, visitorOf(c).TokenHash) {
		return
	}
	var req ratingRequest
	if !h.readJSON(c, &req, false) {
		return
	}
	req.Comment = strings.TrimSpace(req.Comment)
	switch {
	case req.Score < models.RatingMin || req.Score > models.RatingMax:
		apiError(c, http.StatusUnprocessableEntity, "score must be a whole number from 1 to 5.")
		return
	case !utf8.ValidString(req.Comment) || utf8.RuneCountInString(req.Comment) > models.RatingCommentMax:
		apiError(c, http.StatusUnprocessableEntity, "The comment must be text of at most 2000 characters.")
		return
	case conv.Status != models.ConversationResolved:
		apiError(c, http.StatusConflict, "Only a resolved conversation can be rated.")
		return
	}
	r := &models.ConversationRating{ConversationID: conv.ID, ContactID: conv.ContactID, DataKeyID: conv.DataKeyID,
		AssigneeID: conv.AssigneeID, Score: req.Score, Comment: req.Comment, CreatedAt: h.Conversations.Now().UTC()}
	err := h.Store.CreateRating(c, org.ID, r)
	switch {
	case errors.Is(err, store.ErrAlreadyRated):
		apiError(c, http.StatusConflict, "This conversation has been rated already.")
	case errors.Is(err, store.ErrNotFound):
		apiError(c, http.StatusConflict, "Only a resolved conversation can be rated.")
	case err != nil:
		apiInternal(c, err)
	default:
		c.JSON(http.StatusCreated, gin.H{"rating": ratingView{Score: r.Score, Comment: r.Comment}})
	}
}
